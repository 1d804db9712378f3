DROP TABLE protected_resources;

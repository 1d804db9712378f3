DROP TABLE logout_deliveries;
DROP TABLE session_clients;

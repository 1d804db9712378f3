// Submits the authorization response form at once (OAuth 2.0 Form Post Response Mode).
document.getElementById("form-post").submit();

// The one schema both backends share; `tests/api/schema.rs` checks that the SQLite and
// PostgreSQL migration trees both produce exactly these tables and column types.

diesel::table! {
    clients (client_id) {
        client_id -> Text,
        name -> Text,
        secret_hash -> Nullable<Text>,
        is_public -> Bool,
        auth_method -> Text,
        redirect_uris -> Text,
        post_logout_redirect_uris -> Text,
        grant_types -> Text,
        scopes -> Text,
        skip_consent -> Bool,
        jwks -> Nullable<Text>,
        id_token_signed_response_alg -> Nullable<Text>,
        access_token_alg -> Nullable<Text>,
        audience -> Nullable<Text>,
        client_uri -> Nullable<Text>,
        logo_uri -> Nullable<Text>,
        contacts -> Text,
        registration_token_hash -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
        registration_ceiling -> Nullable<Text>,
        tokens_valid_after -> BigInt,
        jwks_uri -> Nullable<Text>,
        provenance -> Text,
        used_at -> Nullable<BigInt>,
        dpop_bound_access_tokens -> Bool,
        require_pushed_authorization_requests -> Bool,
        security_profile -> Nullable<Text>,
        request_object_signing_alg -> Nullable<Text>,
        request_uris -> Text,
        userinfo_signed_response_alg -> Nullable<Text>,
        openid_options -> Text,
    }
}

diesel::table! {
    device_codes (device_code_hash) {
        device_code_hash -> Text,
        user_code_hash -> Text,
        client_id -> Text,
        scopes -> Text,
        resources -> Text,
        status -> Text,
        user_id -> Nullable<Text>,
        auth_time -> Nullable<BigInt>,
        amr -> Text,
        sid -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> BigInt,
        poll_interval -> BigInt,
        last_poll_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    token_exchanges (issued_jti) {
        issued_jti -> Text,
        subject_jti -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    session_clients (sid, client_id) {
        sid -> Text,
        client_id -> Text,
        user_id -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    logout_deliveries (id) {
        id -> Text,
        client_id -> Text,
        user_id -> Text,
        sid -> Nullable<Text>,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        created_at -> BigInt,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    setup_tokens (token_hash) {
        token_hash -> Text,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    pushed_requests (request_uri_hash) {
        request_uri_hash -> Text,
        client_id -> Text,
        params -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    protected_resources (resource) {
        resource -> Text,
        name -> Text,
        scopes -> Text,
        metadata -> Nullable<Text>,
        fetched_at -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        username -> Text,
        password_hash -> Text,
        email -> Nullable<Text>,
        email_verified -> Bool,
        name -> Nullable<Text>,
        is_admin -> Bool,
        disabled -> Bool,
        created_at -> BigInt,
        updated_at -> BigInt,
        phone_number -> Nullable<Text>,
        phone_number_verified -> Bool,
        address -> Nullable<Text>,
        require_mfa -> Bool,
    }
}

diesel::table! {
    user_factors (id) {
        id -> Text,
        user_id -> Text,
        kind -> Text,
        name -> Text,
        lookup -> Nullable<Text>,
        secret -> Binary,
        counter -> BigInt,
        detail -> Text,
        created_at -> BigInt,
        last_used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        alg -> Text,
        private_key -> Binary,
        public_jwk -> Text,
        created_at -> BigInt,
        retired_at -> Nullable<BigInt>,
        activates_at -> BigInt,
    }
}

diesel::table! {
    login_sessions (id_hash) {
        id_hash -> Text,
        sid -> Text,
        user_id -> Text,
        auth_time -> BigInt,
        amr -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    authorization_codes (code_hash) {
        code_hash -> Text,
        client_id -> Text,
        user_id -> Text,
        redirect_uri -> Text,
        scopes -> Text,
        nonce -> Nullable<Text>,
        code_challenge -> Text,
        sid -> Text,
        auth_time -> BigInt,
        amr -> Text,
        family_id -> Text,
        access_jti -> Nullable<Text>,
        access_expires_at -> Nullable<BigInt>,
        created_at -> BigInt,
        expires_at -> BigInt,
        consumed_at -> Nullable<BigInt>,
        redirect_uri_given -> Bool,
        resources -> Text,
        dpop_jkt -> Nullable<Text>,
        claims -> Nullable<Text>,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Text,
        family_id -> Text,
        client_id -> Text,
        user_id -> Text,
        scopes -> Text,
        sid -> Nullable<Text>,
        auth_time -> BigInt,
        created_at -> BigInt,
        expires_at -> BigInt,
        idle_expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
        replaced_by -> Nullable<Text>,
        grace_response -> Nullable<Binary>,
        access_jti -> Nullable<Text>,
        access_expires_at -> Nullable<BigInt>,
        revoked -> Bool,
        amr -> Text,
        resources -> Text,
        dpop_jkt -> Nullable<Text>,
        claims -> Nullable<Text>,
    }
}

diesel::table! {
    consents (user_id, client_id) {
        user_id -> Text,
        client_id -> Text,
        scopes -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    revoked_tokens (jti) {
        jti -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    used_assertions (jti_key) {
        jti_key -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    login_failures (throttle_key) {
        throttle_key -> Text,
        failures -> Integer,
        last_failure_at -> BigInt,
        blocked_until -> BigInt,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Text,
        created_at -> BigInt,
        actor -> Text,
        action -> Text,
        target -> Nullable<Text>,
        ip -> Nullable<Text>,
        detail -> Text,
    }
}

diesel::table! {
    health_checks (id) {
        id -> Integer,
        checked_at -> BigInt,
    }
}

diesel::joinable!(login_sessions -> users (user_id));
diesel::joinable!(user_factors -> users (user_id));
diesel::joinable!(authorization_codes -> clients (client_id));
diesel::joinable!(refresh_tokens -> clients (client_id));
diesel::joinable!(pushed_requests -> clients (client_id));

diesel::allow_tables_to_appear_in_same_query!(
    clients,
    users,
    signing_keys,
    login_sessions,
    authorization_codes,
    refresh_tokens,
    consents,
    revoked_tokens,
    used_assertions,
    login_failures,
    audit_events,
    health_checks,
    protected_resources,
    pushed_requests,
    device_codes,
    token_exchanges,
    session_clients,
    logout_deliveries,
    setup_tokens,
    user_factors,
);

//! The one `schema.rs` for both backends. Portable SQL types only: `Text` ids
//! (UUID strings), `Timestamp` (UTC, no zone), `BigInt`, `Integer`, `Bool`, and
//! JSON documents as `Text`. Written by hand to match `migrations/*/up.sql`.

#![allow(missing_docs)]

diesel::table! {
    tenants (id) {
        id -> Text,
        slug -> Text,
        name -> Text,
        created_at -> Timestamp,
        automatic_invitation -> Bool,
        require_mobile_auth_users -> Bool,
        require_mobile_auth_groups -> Bool,
        oauth_only -> Bool,
        event_seq -> BigInt,
        rate_limit -> Nullable<Integer>,
    }
}

diesel::table! {
    server_settings (name) {
        name -> Text,
        value -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    scim_tokens (tenant_id, token_id) {
        tenant_id -> Text,
        token_id -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        signing_key_id -> Nullable<Text>,
    }
}

diesel::table! {
    users (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        user_name -> Text,
        user_name_folded -> Text,
        external_id -> Nullable<Text>,
        display_name -> Nullable<Text>,
        display_name_folded -> Nullable<Text>,
        active -> Bool,
        status -> Text,
        status_before_suspend -> Nullable<Text>,
        override_automatic_invitation -> Nullable<Bool>,
        override_require_mobile_auth -> Nullable<Bool>,
        mobile_device_enrolled -> Bool,
        mobile_device_name -> Nullable<Text>,
        created_at -> Timestamp,
        last_modified -> Timestamp,
        version -> BigInt,
        document -> Text,
        lifecycle -> Text,
    }
}

diesel::table! {
    user_emails (tenant_id, user_id, position) {
        tenant_id -> Text,
        user_id -> Text,
        position -> Integer,
        value -> Text,
        value_folded -> Text,
        email_type -> Nullable<Text>,
        email_type_folded -> Nullable<Text>,
        is_primary -> Bool,
    }
}

diesel::table! {
    groups (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        display_name -> Text,
        display_name_folded -> Text,
        external_id -> Nullable<Text>,
        override_require_mobile_auth -> Nullable<Bool>,
        members_can_store_data -> Bool,
        created_at -> Timestamp,
        last_modified -> Timestamp,
        version -> BigInt,
        document -> Text,
    }
}

diesel::table! {
    group_members (tenant_id, group_id, user_id) {
        tenant_id -> Text,
        group_id -> Text,
        user_id -> Text,
    }
}

diesel::table! {
    invitations (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        user_id -> Text,
        number -> Integer,
        trigger_kind -> Text,
        state -> Text,
        created_at -> Timestamp,
        released_at -> Nullable<Timestamp>,
        sent_at -> Nullable<Timestamp>,
        accepted_at -> Nullable<Timestamp>,
        expires_at -> Nullable<Timestamp>,
        secret_hash -> Nullable<Text>,
        attempts -> Integer,
        next_attempt_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    audit_log (tenant_id, seq) {
        tenant_id -> Text,
        seq -> BigInt,
        at -> Timestamp,
        actor -> Text,
        action -> Text,
        target_type -> Text,
        target_id -> Nullable<Text>,
        details -> Text,
    }
}

diesel::table! {
    outbox (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        kind -> Text,
        payload -> Text,
        created_at -> Timestamp,
        available_at -> Timestamp,
        attempts -> Integer,
        claimed_by -> Nullable<Text>,
        claimed_until -> Nullable<Timestamp>,
        done_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    oauth_clients (tenant_id) {
        tenant_id -> Text,
        client_id -> Text,
        secret_hash -> Text,
        previous_secret_hash -> Nullable<Text>,
        previous_secret_expires_at -> Nullable<Timestamp>,
        generation -> BigInt,
        jwks -> Nullable<Text>,
        created_at -> Timestamp,
        rotated_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    oauth_assertion_ids (tenant_id, jti) {
        tenant_id -> Text,
        jti -> Text,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    console_sessions (id_hash) {
        id_hash -> Text,
        subject -> Text,
        csrf_token -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        tenant_id -> Nullable<Text>,
        admin_id -> Nullable<Text>,
        pending -> Nullable<Text>,
    }
}

diesel::table! {
    events (tenant_id, seq) {
        tenant_id -> Text,
        seq -> BigInt,
        id -> Text,
        event_type -> Text,
        occurred_at -> Timestamp,
        actor -> Text,
        resource_type -> Text,
        resource_id -> Nullable<Text>,
        data -> Text,
    }
}

diesel::table! {
    event_consumers (tenant_id, consumer) {
        tenant_id -> Text,
        consumer -> Text,
        last_seq -> BigInt,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    tenant_admins (id) {
        id -> Text,
        tenant_id -> Text,
        email -> Text,
        email_folded -> Text,
        password_hash -> Nullable<Text>,
        totp_seed -> Nullable<Text>,
        totp_pending -> Nullable<Text>,
        totp_last_step -> Nullable<BigInt>,
        disabled_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        created_by -> Text,
    }
}

diesel::table! {
    tenant_admin_recovery_codes (admin_id, code_hash) {
        admin_id -> Text,
        code_hash -> Text,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    tenant_admin_links (token_hash) {
        token_hash -> Text,
        admin_id -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    tenant_console_settings (tenant_id) {
        tenant_id -> Text,
        second_factor_required -> Bool,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_endpoints (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        url -> Text,
        event_types -> Text,
        enabled -> Bool,
        secret_sealed -> Text,
        previous_secret_sealed -> Nullable<Text>,
        previous_secret_expires_at -> Nullable<Timestamp>,
        state -> Text,
        cursor_seq -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_deliveries (tenant_id, endpoint_id, id) {
        tenant_id -> Text,
        endpoint_id -> Text,
        id -> Text,
        seq -> BigInt,
        resource_key -> Text,
        created_at -> Timestamp,
        available_at -> Timestamp,
        attempts -> Integer,
        first_failed_at -> Nullable<Timestamp>,
        claimed_by -> Nullable<Text>,
        claimed_until -> Nullable<Timestamp>,
        done_at -> Nullable<Timestamp>,
        outcome -> Nullable<Text>,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    webhook_attempts (tenant_id, endpoint_id, id) {
        tenant_id -> Text,
        endpoint_id -> Text,
        id -> Text,
        delivery_id -> Text,
        seq -> BigInt,
        event_id -> Text,
        attempted_at -> Timestamp,
        status_code -> Nullable<Integer>,
        latency_ms -> BigInt,
        error -> Nullable<Text>,
    }
}

diesel::table! {
    tenant_api_keys (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        name -> Text,
        key_hash -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    scim_activity (tenant_id, bucket) {
        tenant_id -> Text,
        bucket -> BigInt,
        requests -> BigInt,
        errors -> BigInt,
        first_at -> Timestamp,
        last_at -> Timestamp,
    }
}

diesel::table! {
    scim_activity_errors (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        at -> Timestamp,
        request -> Text,
        status -> Integer,
        scim_type -> Nullable<Text>,
        detail -> Text,
    }
}

diesel::joinable!(tenant_admins -> tenants (tenant_id));

diesel::allow_tables_to_appear_in_same_query!(
    tenants,
    scim_activity,
    scim_activity_errors,
    server_settings,
    scim_tokens,
    users,
    user_emails,
    groups,
    group_members,
    invitations,
    audit_log,
    outbox,
    oauth_clients,
    oauth_assertion_ids,
    console_sessions,
    events,
    event_consumers,
    tenant_admins,
    tenant_admin_recovery_codes,
    tenant_admin_links,
    tenant_console_settings,
    webhook_endpoints,
    webhook_deliveries,
    webhook_attempts,
    tenant_api_keys,
);

use chrono::{TimeDelta, Utc};
use serde_json::json;
use store_diesel::events::{self, NewEvent};
use store_diesel::invitations::{self, hash_secret};
use store_diesel::retention::{self, ERASED, Erased};
use store_diesel::users::{self, UserRecord};
use store_diesel::{audit, tenants};

use super::*;

fn user(tenant_id: &str, id: &str) -> UserRecord {
    let now = Utc::now();
    UserRecord {
        tenant_id: tenant_id.to_owned(),
        id: id.to_owned(),
        user_name: format!("{id}@acme.example"),
        external_id: None,
        display_name: None,
        active: true,
        status: "Staged".to_owned(),
        status_before_suspend: None,
        override_automatic_invitation: None,
        override_require_mobile_auth: None,
        mobile_device_enrolled: false,
        mobile_device_name: None,
        created_at: now,
        last_modified: now,
        version: 1,
        document: json!({ "userName": id }),
        lifecycle: json!({}),
        emails: vec![],
    }
}

fn record(c: &mut DbConnection, t: &str, action: &str, user: &str, details: serde_json::Value) {
    audit::append(
        c,
        t,
        &audit::NewAuditRecord {
            actor: "scim",
            action,
            target_type: "User",
            target_id: Some(user),
            details: &details,
        },
    )
    .unwrap();
}

fn event(c: &mut DbConnection, t: &str, kind: &str, user: &str, data: serde_json::Value) {
    events::append(
        c,
        t,
        NewEvent {
            event_type: kind.to_owned(),
            time: Utc::now(),
            actor: "directory".to_owned(),
            resource_type: "User".to_owned(),
            resource_id: Some(user.to_owned()),
            data,
        },
    )
    .unwrap();
}

store_test!(
    old_audit_records_and_finished_invitations_are_pruned,
    |db| {
        let store = db.store();
        let t = store
            .transaction(|c| tenants::create(c, "acme", "Acme"))
            .unwrap();
        for id in ["u1", "u2", "u3", "u4"] {
            store
                .transaction(|c| users::insert(c, &user(&t.id, id)))
                .unwrap();
        }
        store
            .transaction(|c| {
                record(c, &t.id, "user.create", "u1", json!({}));
                Ok(())
            })
            .unwrap();
        let now = Utc::now();
        let old = now - TimeDelta::days(40);
        store
            .transaction(|c| {
                // u1: accepted long ago; u2: queued long ago; u3: sent long ago,
                // link still valid; u4: sent long ago, expired.
                for (u, at) in [("u1", old), ("u2", old), ("u3", old), ("u4", old)] {
                    invitations::queue(c, &t.id, u, 1, "automatic", at)?;
                }
                let r = invitations::release(
                    c,
                    &t.id,
                    "u1",
                    1,
                    old,
                    now + TimeDelta::days(1),
                    &hash_secret("1"),
                )?;
                invitations::accept(c, &t.id, &r.id, now)?;
                invitations::release(
                    c,
                    &t.id,
                    "u3",
                    1,
                    old,
                    now + TimeDelta::days(1),
                    &hash_secret("3"),
                )?;
                invitations::release(
                    c,
                    &t.id,
                    "u4",
                    1,
                    old,
                    old + TimeDelta::days(7),
                    &hash_secret("4"),
                )?;
                Ok(())
            })
            .unwrap();
        // Nothing is older than a cutoff in the past.
        let pruned = store
            .transaction(|c| retention::prune_audit_before(c, now - TimeDelta::days(1)))
            .unwrap();
        assert_eq!(pruned, 0);
        let pruned = store
            .transaction(|c| retention::prune_audit_before(c, now + TimeDelta::seconds(1)))
            .unwrap();
        assert!(pruned >= 1);
        assert!(
            store
                .with_conn(|c| audit::page(c, &t.id, None, 10))
                .unwrap()
                .is_empty()
        );
        let pruned = store
            .transaction(|c| retention::prune_invitations_before(c, now - TimeDelta::days(30), now))
            .unwrap();
        assert_eq!(pruned, 2, "the accepted and the expired one");
        let left: Vec<String> = ["u1", "u2", "u3", "u4"]
            .into_iter()
            .filter(|u| {
                !store
                    .with_conn(|c| invitations::of_user(c, &t.id, u))
                    .unwrap()
                    .is_empty()
            })
            .map(str::to_owned)
            .collect();
        assert_eq!(
            left,
            ["u2", "u3"],
            "queued and still-valid invitations stay"
        );
    }
);

store_test!(a_deleted_users_personal_data_is_erased_once, |db| {
    let store = db.store();
    let t = store
        .transaction(|c| tenants::create(c, "acme", "Acme"))
        .unwrap();
    store
        .transaction(|c| {
            for u in ["gone", "kept"] {
                let name = format!("{u}@acme.example");
                record(c, &t.id, "user.create", u, json!({"userName": name, "status": "Staged"}));
                record(
                    c,
                    &t.id,
                    "invitation.failed",
                    u,
                    json!({"invitation": 1, "reason": format!("SMTP delivery failed: 550 no mailbox {name}")}),
                );
                record(c, &t.id, "user.update", u, json!({"changed": ["emails", "name"]}));
                event(
                    c,
                    &t.id,
                    "user.provisioned",
                    u,
                    json!({"id": u, "userName": name, "externalId": "E-1",
                           "emails": [{"value": name, "primary": true}],
                           "name": {"givenName": "Bo", "familyName": "Ng"}, "status": "Staged"}),
                );
            }
            record(c, &t.id, "user.delete", "gone", json!({"userName": "gone@acme.example"}));
            Ok(())
        })
        .unwrap();
    let now = Utc::now();
    // Deleted after the cutoff: not yet.
    let none = store
        .transaction(|c| retention::erase_deleted_users(c, now - TimeDelta::days(1), 100))
        .unwrap();
    assert_eq!(none, Erased::default());
    let cutoff = now + TimeDelta::seconds(1);
    let erased = store
        .transaction(|c| retention::erase_deleted_users(c, cutoff, 100))
        .unwrap();
    assert_eq!(erased.users, 1);
    assert_eq!(erased.audit_records, 3, "create, failure reason, delete");
    assert_eq!(erased.events, 1);
    let records = store
        .with_conn(|c| audit::page(c, &t.id, None, 100))
        .unwrap();
    let text = |u: &str| {
        records
            .iter()
            .filter(|r| r.target_id.as_deref() == Some(u))
            .map(|r| r.details.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(
        !text("gone").contains("gone@acme.example"),
        "{}",
        text("gone")
    );
    assert!(text("kept").contains("kept@acme.example"));
    // The records stay, with what was done and when.
    let gone: Vec<_> = records
        .iter()
        .filter(|r| r.target_id.as_deref() == Some("gone"))
        .collect();
    assert_eq!(gone.len(), 4);
    assert_eq!(
        gone[0].details,
        json!({"userName": ERASED, "status": "Staged"})
    );
    assert_eq!(gone[1].details, json!({"invitation": 1, "reason": ERASED}));
    assert_eq!(gone[2].details, json!({"changed": ["emails", "name"]}));
    assert_eq!(
        gone[3].details,
        json!({"userName": ERASED, "personalDataErased": true})
    );
    let feed = store
        .with_conn(|c| events::list_after(c, &t.id, 0, 100, &[]))
        .unwrap();
    let data = |u: &str| {
        feed.iter()
            .find(|e| e.resource_id.as_deref() == Some(u))
            .unwrap()
            .data
            .clone()
    };
    assert_eq!(
        data("gone"),
        json!({"id": "gone", "userName": ERASED, "externalId": ERASED, "emails": ERASED,
               "name": ERASED, "status": "Staged"})
    );
    assert_eq!(data("kept")["userName"], "kept@acme.example");
    // Once.
    let again = store
        .transaction(|c| retention::erase_deleted_users(c, cutoff, 100))
        .unwrap();
    assert_eq!(again, Erased::default());
});

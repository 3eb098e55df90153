//! What other layers rely on: wire shapes, messages, stored records, expiry,
//! and the store glue.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use provisioning_core::*;
use serde_json::json;
use std::collections::HashMap;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 1, 12, 0, 0).unwrap()
}

fn auto_on() -> EffectiveUserSettings {
    TenantScimSettings {
        automatic_invitation: true,
        ..TenantScimSettings::default()
    }
    .effective_for_user(&UserOverrides::default())
}

fn invited() -> UserLifecycle {
    let (mut u, _) = UserLifecycle::provision(&auto_on(), true, t0());
    u.release_invitation(&InvitationPolicy::default(), t0())
        .unwrap();
    u
}

#[test]
fn status_serialises_as_the_product_names() {
    for (status, name) in [
        (Status::Staged, "Staged"),
        (Status::Invited, "Invited"),
        (Status::Active, "Active"),
        (Status::Suspended, "Suspended"),
        (Status::Deleted, "Deleted"),
    ] {
        assert_eq!(serde_json::to_value(status).unwrap(), json!(name));
        assert_eq!(status.to_string(), name);
        assert_eq!(
            serde_json::from_value::<Status>(json!(name)).unwrap(),
            status
        );
    }
}

#[test]
fn events_serialise_tagged_and_camel_case() {
    let (_, events) = UserLifecycle::provision(&auto_on(), true, t0());
    let json = serde_json::to_value(&events).unwrap();
    assert_eq!(
        json,
        json!([
            {"type": "userProvisioned", "status": "Staged",
             "automaticInvitation": {"value": true, "source": "tenantDefault"},
             "at": "2024-06-01T12:00:00Z"},
            {"type": "invitationQueued", "invitation": 1, "trigger": "automatic",
             "at": "2024-06-01T12:00:00Z"}
        ])
    );
    for e in &events {
        assert_eq!(serde_json::to_value(e).unwrap()["type"], e.name());
        let back: Event = serde_json::from_value(serde_json::to_value(e).unwrap()).unwrap();
        assert_eq!(&back, e);
    }
    let mut u = UserLifecycle::provision(&auto_on(), true, t0()).0;
    let released = u
        .release_invitation(&InvitationPolicy::default(), t0())
        .unwrap();
    assert_eq!(
        serde_json::to_value(&released[0]).unwrap(),
        json!({"type": "invitationReleased", "invitation": 1,
               "expiresAt": "2024-06-08T12:00:00Z", "at": "2024-06-01T12:00:00Z"})
    );
    assert!(released[0].is_outbox());
    assert!(!events.iter().any(Event::is_outbox));
}

#[test]
fn errors_read_like_support_messages() {
    let mut u = invited();
    let err = u.activate(None, true, t0()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot activate a user who is Invited: mobile authentication is required for this user, \
         so activation must enrol a mobile device"
    );
    u.deactivate(t0()).unwrap();
    let err = u.deactivate(t0()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot deactivate a user who is Suspended: the user is already suspended"
    );
    let err = u
        .release_invitation(&InvitationPolicy::default(), t0())
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("cannot release the invitation of a user who is Suspended")
    );
    u.delete(t0()).unwrap();
    let err = u.invite(t0()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot invite a user who is Deleted: the user has been deleted and can no longer change"
    );
}

#[test]
fn invitation_expiry_and_reported_state() {
    let policy = InvitationPolicy::default();
    assert_eq!(policy.validity, TimeDelta::days(7));
    let u = invited();
    let inv = u.invitation().unwrap();
    let expires = t0() + TimeDelta::days(7);
    assert_eq!(inv.expires_at, Some(expires));
    assert!(!inv.is_expired(expires - TimeDelta::seconds(1)));
    assert!(inv.is_expired(expires));
    assert_eq!(
        inv.reported_state(expires - TimeDelta::seconds(1)),
        ReportedInvitationState::Sent
    );
    assert_eq!(
        inv.reported_state(expires),
        ReportedInvitationState::Expired
    );
    assert_eq!(
        serde_json::to_value(ReportedInvitationState::Expired).unwrap(),
        json!("expired")
    );

    // Activation one second before expiry works; at expiry it does not.
    let mut ok = u.clone();
    ok.activate(None, false, expires - TimeDelta::seconds(1))
        .unwrap();
    let mut late = u.clone();
    let err = late.activate(None, false, expires).unwrap_err();
    assert_eq!(
        err.reason,
        Rejection::InvitationExpired {
            expired_at: expires
        }
    );

    // A configurable validity; a huge one saturates instead of overflowing.
    let short = InvitationPolicy {
        validity: TimeDelta::hours(1),
    };
    assert_eq!(short.expires_at(t0()), t0() + TimeDelta::hours(1));
    let forever = InvitationPolicy {
        validity: TimeDelta::MAX,
    };
    assert_eq!(forever.expires_at(t0()), DateTime::<Utc>::MAX_UTC);

    // Accepted and queued invitations never count as expired.
    assert!(
        !ok.invitation()
            .unwrap()
            .is_expired(expires + TimeDelta::days(100))
    );
    let (q, _) = UserLifecycle::provision(&auto_on(), true, t0());
    assert!(
        !q.invitation()
            .unwrap()
            .is_expired(t0() + TimeDelta::days(100))
    );
}

#[test]
fn reinviting_after_expiry_sends_a_new_link_once() {
    let mut u = invited();
    let late = t0() + TimeDelta::days(10);
    let events = u.invite(late).unwrap();
    assert_eq!(
        events,
        vec![Event::InvitationQueued {
            invitation: 2,
            trigger: InvitationTrigger::Explicit,
            at: late
        }]
    );
    assert_eq!(u.status(), Status::Invited);
    let released = u
        .release_invitation(&InvitationPolicy::default(), late)
        .unwrap();
    assert!(matches!(
        released[0],
        Event::InvitationReleased { invitation: 2, .. }
    ));
    u.activate(Some(MobileDevice::new("p")), true, late)
        .unwrap();
    assert_eq!(u.status(), Status::Active);
}

#[test]
fn forged_records_are_refused() {
    let good = invited().to_record();
    assert!(UserLifecycle::from_record(good.clone()).is_ok());
    let forged = [
        // Active without an accepted invitation.
        LifecycleRecord {
            status: Status::Active,
            ..good.clone()
        },
        // Suspended without a status to restore.
        LifecycleRecord {
            status: Status::Suspended,
            ..good.clone()
        },
        // Remembering a status while not suspended.
        LifecycleRecord {
            restore_to: Some(Status::Staged),
            ..good.clone()
        },
        // Restoring to Suspended.
        LifecycleRecord {
            status: Status::Suspended,
            restore_to: Some(Status::Suspended),
            ..good.clone()
        },
        // Invited without any invitation.
        LifecycleRecord {
            invitation: None,
            ..good.clone()
        },
        // A device before activation.
        LifecycleRecord {
            mobile_device: Some(MobileDevice::new("p")),
            ..good.clone()
        },
        // A held invitation on a user who is not suspended.
        LifecycleRecord {
            invitation_held: true,
            ..good.clone()
        },
    ];
    for record in forged {
        let err = UserLifecycle::from_record(record.clone()).unwrap_err();
        assert_eq!(err.status, record.status);
        // Deserialising goes through the same check.
        let json = serde_json::to_value(&record).unwrap();
        assert!(serde_json::from_value::<UserLifecycle>(json).is_err());
    }
    // A suspended user cannot keep a queued invitation.
    let (mut queued, _) = UserLifecycle::provision(&auto_on(), true, t0());
    let mut record = queued.to_record();
    record.status = Status::Suspended;
    record.restore_to = Some(Status::Staged);
    assert!(UserLifecycle::from_record(record).is_err());
    queued.deactivate(t0()).unwrap();
    assert!(UserLifecycle::from_record(queued.to_record()).is_ok());
}

#[test]
fn lifecycle_serialises_as_its_record() {
    let u = invited();
    let json = serde_json::to_value(&u).unwrap();
    assert_eq!(json["status"], "Invited");
    assert_eq!(json["restoreTo"], serde_json::Value::Null);
    assert_eq!(json["invitationHeld"], false);
    assert_eq!(json["invitation"]["state"], "sent");
    assert_eq!(json["invitation"]["number"], 1);
    let back: UserLifecycle = serde_json::from_value(json).unwrap();
    assert_eq!(back, u);
}

#[test]
fn mobile_device_enrolment_and_replacement() {
    let mut u = invited();
    u.activate(None, false, t0()).unwrap();
    assert!(!u.mobile_device_enrolled());
    let e = u
        .enroll_mobile_device(MobileDevice::new("first"), t0())
        .unwrap();
    assert!(
        matches!(&e[0], Event::MobileDeviceEnrolled { replaced: false, device, .. } if device.name == "first")
    );
    let e = u
        .enroll_mobile_device(MobileDevice::new("second"), t0())
        .unwrap();
    assert!(matches!(
        &e[0],
        Event::MobileDeviceEnrolled { replaced: true, .. }
    ));
    assert_eq!(u.mobile_device().unwrap().name, "second");
    assert!(u.access_facts().mobile_device_enrolled);
    assert_eq!(u.access_facts().status, Status::Active);
}

// ------------------------------------------------------------ store glue

#[derive(Debug, Default)]
struct MemoryStore {
    users: HashMap<&'static str, UserLifecycle>,
    audit: Vec<(&'static str, Event)>,
    outbox: Vec<(&'static str, Event)>,
    fail_saves: bool,
}

impl LifecycleStore for MemoryStore {
    type UserId = &'static str;
    type Error = String;

    fn load_lifecycle(&mut self, user: &&'static str) -> Result<Option<UserLifecycle>, String> {
        Ok(self.users.get(user).cloned())
    }

    fn save_lifecycle(
        &mut self,
        user: &&'static str,
        lifecycle: &UserLifecycle,
        events: &[Event],
    ) -> Result<(), String> {
        if self.fail_saves {
            return Err("disk full".into());
        }
        self.users.insert(user, lifecycle.clone());
        for e in events {
            self.audit.push((user, e.clone()));
            if e.is_outbox() {
                self.outbox.push((user, e.clone()));
            }
        }
        Ok(())
    }
}

#[test]
fn execute_loads_applies_and_saves() {
    let mut store = MemoryStore::default();
    let (u, _) = UserLifecycle::provision(&auto_on(), true, t0());
    store.users.insert("ann", u);

    let events = execute(
        &mut store,
        &"ann",
        Command::ReleaseInvitation {
            policy: InvitationPolicy::default(),
        },
        t0(),
    )
    .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(store.users["ann"].status(), Status::Invited);
    assert_eq!(store.audit.len(), 1);
    assert_eq!(store.outbox.len(), 1);

    // Refused: nothing saved, the typed error comes through.
    let err = execute(&mut store, &"ann", Command::Reactivate, t0()).unwrap_err();
    match err {
        ExecuteError::Rejected(e) => assert_eq!(e.reason, Rejection::NotSuspended),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(store.audit.len(), 1);

    assert!(matches!(
        execute(&mut store, &"nobody", Command::Delete, t0()),
        Err(ExecuteError::UnknownUser)
    ));

    store.fail_saves = true;
    let err = execute(&mut store, &"ann", Command::Delete, t0()).unwrap_err();
    assert!(matches!(&err, ExecuteError::Store(m) if m == "disk full"));
    assert_eq!(store.users["ann"].status(), Status::Invited);
}

#[derive(Debug)]
struct FixedSettings {
    tenant: TenantScimSettings,
    users: HashMap<&'static str, UserOverrides>,
    groups: HashMap<&'static str, GroupSettings>,
}

impl SettingsStore for FixedSettings {
    type UserId = &'static str;
    type GroupId = &'static str;
    type Error = String;
    fn tenant_settings(&mut self) -> Result<TenantScimSettings, String> {
        Ok(self.tenant)
    }
    fn user_overrides(&mut self, user: &&'static str) -> Result<UserOverrides, String> {
        Ok(self.users.get(user).copied().unwrap_or_default())
    }
    fn group_settings(&mut self, group: &&'static str) -> Result<GroupSettings, String> {
        self.groups
            .get(group)
            .copied()
            .ok_or_else(|| format!("no group {group}"))
    }
}

#[test]
fn settings_store_feeds_the_rules() {
    let mut s = FixedSettings {
        tenant: TenantScimSettings::default(),
        users: HashMap::from([(
            "ann",
            UserOverrides {
                require_mobile_auth: Override::Off,
                ..UserOverrides::default()
            },
        )]),
        groups: HashMap::from([("finance", GroupSettings::default())]),
    };
    let tenant = s.tenant_settings().unwrap();
    let ann = tenant.effective_for_user(&s.user_overrides(&"ann").unwrap());
    let bob = tenant.effective_for_user(&s.user_overrides(&"bob").unwrap());
    assert_eq!(ann.require_mobile_auth.source, Source::Override);
    assert!(!ann.require_mobile_auth.value);
    assert!(bob.require_mobile_auth.value);
    let finance = tenant.effective_for_group(&s.group_settings(&"finance").unwrap());
    // Ann may activate without a phone, but the finance group still hides its data from her.
    let (mut u, _) = UserLifecycle::provision(&ann, true, t0());
    u.invite(t0()).unwrap();
    u.release_invitation(&InvitationPolicy::default(), t0())
        .unwrap();
    u.activate(None, ann.require_mobile_auth.value, t0())
        .unwrap();
    let d = decide_group_access(&u.access_facts(), &finance, Membership::DirectMember);
    assert!(!d.can_view);
    assert!(s.group_settings(&"hr").is_err());
}

#[test]
fn invitation_states_have_one_set_of_wire_names() {
    for state in InvitationState::ALL {
        let name = state.as_str();
        assert_eq!(serde_json::to_value(state).unwrap(), json!(name));
        assert_eq!(InvitationState::parse(name), Some(state));
        assert_eq!(state.to_string(), name);
    }
    let names: Vec<_> = InvitationState::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(names, ["queued", "sent", "accepted", "cancelled", "failed"]);
    assert_eq!(InvitationState::parse("expired"), None);
}

#[test]
fn a_failed_invitation_is_recorded_and_the_user_can_be_invited_again() {
    let mut u = invited();
    let at = t0() + TimeDelta::minutes(1);
    // Not the released invitation: nothing happens.
    assert!(u.fail_invitation(2, "nope", at).is_empty());
    let events = u.fail_invitation(1, "user bob has no email address", at);
    assert_eq!(
        serde_json::to_value(&events).unwrap(),
        json!([{"type": "invitationFailed", "invitation": 1,
                "reason": "user bob has no email address", "at": "2024-06-01T12:01:00Z"}])
    );
    let i = u.invitation().unwrap();
    assert_eq!(i.state, InvitationState::Failed);
    assert_eq!(i.failed_at, Some(at));
    assert_eq!(i.failure.as_deref(), Some("user bob has no email address"));
    assert_eq!(i.reported_state(at), ReportedInvitationState::Failed);
    assert_eq!(u.status(), Status::Invited);
    // Twice: nothing more.
    assert!(u.fail_invitation(1, "again", at).is_empty());
    // The stored record round-trips through the checks.
    let back: UserLifecycle = serde_json::from_value(serde_json::to_value(&u).unwrap()).unwrap();
    assert_eq!(back, u);
    // The link of a failed invitation does not activate.
    let mut tried = u.clone();
    let e = tried.activate(None, false, at).unwrap_err();
    assert_eq!(e.reason, Rejection::NotInvited);
    // An administrator invites again at once (no 409 for the link's lifetime).
    let events = u.invite(at).unwrap();
    assert!(matches!(
        events.as_slice(),
        [Event::InvitationQueued {
            invitation: 2,
            trigger: InvitationTrigger::Explicit,
            ..
        }]
    ));
    UserLifecycle::from_record(u.to_record()).unwrap();
}

#[test]
fn turning_automatic_invitation_off_cancels_only_an_automatic_queued_invitation() {
    let at = t0() + TimeDelta::minutes(1);
    // Automatic and queued: cancelled.
    let (mut u, _) = UserLifecycle::provision(&auto_on(), true, t0());
    let events = u.automatic_invitation_turned_off(at);
    assert_eq!(
        serde_json::to_value(&events).unwrap(),
        json!([{"type": "invitationCancelled", "invitation": 1,
                "reason": "automaticInvitationOff", "at": "2024-06-01T12:01:00Z"}])
    );
    assert_eq!(u.invitation().unwrap().state, InvitationState::Cancelled);
    assert_eq!(u.status(), Status::Staged);
    assert!(!u.has_queued_invitation());
    UserLifecycle::from_record(u.to_record()).unwrap();
    // Nothing to release at a check-in; an explicit invite is still possible.
    let mut users = [(1, &mut u)];
    let outcome = admin_check_in(
        users.iter_mut().map(|(k, u)| (*k, &mut **u)),
        &InvitationPolicy::default(),
        at,
    );
    assert_eq!(outcome.released_count(), 0);
    let events = u.invite(at).unwrap();
    assert!(matches!(
        events.as_slice(),
        [Event::InvitationQueued {
            invitation: 2,
            trigger: InvitationTrigger::Explicit,
            ..
        }]
    ));
    // An explicit invitation stays queued.
    assert!(u.automatic_invitation_turned_off(at).is_empty());
    assert!(u.has_queued_invitation());
    // A released one is not touched either.
    let mut sent = invited();
    assert!(sent.automatic_invitation_turned_off(at).is_empty());
    assert_eq!(sent.invitation().unwrap().state, InvitationState::Sent);
}

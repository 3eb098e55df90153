//! Exhaustive truth tables: every combination of tenant default and override
//! for each setting, every (state, command) pair of the lifecycle, and every
//! combination of the facts behind a group-access decision.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use provisioning_core::*;

// ---------------------------------------------------------------- settings

/// The rule, written out row by row: (tenant default, override) -> (value, source).
const RESOLUTION: [(bool, Override, bool, Source); 6] = [
    (false, Override::Inherit, false, Source::TenantDefault),
    (true, Override::Inherit, true, Source::TenantDefault),
    (false, Override::On, true, Source::Override),
    (true, Override::On, true, Source::Override),
    (false, Override::Off, false, Source::Override),
    (true, Override::Off, false, Source::Override),
];

fn expected(default: bool, o: Override) -> Effective<bool> {
    let rows: Vec<_> = RESOLUTION
        .iter()
        .filter(|(d, ov, _, _)| *d == default && *ov == o)
        .collect();
    assert_eq!(
        rows.len(),
        1,
        "table must have exactly one row for ({default}, {o:?})"
    );
    let (_, _, value, source) = *rows[0];
    Effective { value, source }
}

fn all_tenants() -> Vec<TenantScimSettings> {
    let mut out = Vec::new();
    for automatic_invitation in [false, true] {
        for require_mobile_auth_for_users in [false, true] {
            for require_mobile_auth_for_groups in [false, true] {
                out.push(TenantScimSettings {
                    automatic_invitation,
                    require_mobile_auth_for_users,
                    require_mobile_auth_for_groups,
                });
            }
        }
    }
    out
}

#[test]
fn resolve_matches_the_table() {
    for default in [false, true] {
        for o in Override::ALL {
            assert_eq!(
                resolve(default, o),
                expected(default, o),
                "({default}, {o:?})"
            );
        }
    }
}

#[test]
fn user_settings_every_tenant_default_and_override() {
    let mut checked = 0;
    for tenant in all_tenants() {
        for automatic_invitation in Override::ALL {
            for require_mobile_auth in Override::ALL {
                let overrides = UserOverrides {
                    automatic_invitation,
                    require_mobile_auth,
                };
                let e = tenant.effective_for_user(&overrides);
                assert_eq!(
                    e.automatic_invitation,
                    expected(tenant.automatic_invitation, automatic_invitation),
                    "automatic invitation for {tenant:?} / {overrides:?}"
                );
                assert_eq!(
                    e.require_mobile_auth,
                    expected(tenant.require_mobile_auth_for_users, require_mobile_auth),
                    "require mobile auth (users) for {tenant:?} / {overrides:?}"
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 8 * 9);
}

#[test]
fn group_settings_every_tenant_default_and_override() {
    let mut checked = 0;
    for tenant in all_tenants() {
        for require_mobile_auth in Override::ALL {
            for members_can_store_data in [false, true] {
                let group = GroupSettings {
                    require_mobile_auth,
                    members_can_store_data,
                };
                let e = tenant.effective_for_group(&group);
                assert_eq!(
                    e.require_mobile_auth,
                    expected(tenant.require_mobile_auth_for_groups, require_mobile_auth),
                    "require mobile auth (groups) for {tenant:?} / {group:?}"
                );
                assert_eq!(e.members_can_store_data, members_can_store_data);
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 8 * 3 * 2);
}

#[test]
fn settings_print_as_the_admin_api_shows_them() {
    use serde_json::json;
    let tenant = TenantScimSettings::default();
    assert_eq!(
        serde_json::to_value(tenant).unwrap(),
        json!({"automaticInvitation": false, "requireMobileAuthForUsers": true, "requireMobileAuthForGroups": true})
    );
    let overrides = UserOverrides {
        automatic_invitation: Override::On,
        require_mobile_auth: Override::Inherit,
    };
    assert_eq!(
        serde_json::to_value(overrides).unwrap(),
        json!({"automaticInvitation": true, "requireMobileAuth": null})
    );
    let parsed: UserOverrides =
        serde_json::from_value(json!({"requireMobileAuth": false})).unwrap();
    assert_eq!(parsed.automatic_invitation, Override::Inherit);
    assert_eq!(parsed.require_mobile_auth, Override::Off);

    let group: GroupSettings = serde_json::from_value(json!({})).unwrap();
    assert_eq!(group, GroupSettings::default());
    let eg = tenant.effective_for_group(&GroupSettings {
        require_mobile_auth: Override::Off,
        members_can_store_data: false,
    });
    assert_eq!(
        serde_json::to_value(eg).unwrap(),
        json!({"requireMobileAuth": {"value": false, "source": "override"}, "membersCanStoreData": false})
    );
    let eu = tenant.effective_for_user(&overrides);
    assert_eq!(
        serde_json::to_value(eu).unwrap(),
        json!({
            "automaticInvitation": {"value": true, "source": "override"},
            "requireMobileAuth": {"value": true, "source": "tenantDefault"}
        })
    );
}

// ---------------------------------------------------------------- lifecycle

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 9, 0, 0).unwrap()
}

fn settings(automatic: bool) -> EffectiveUserSettings {
    TenantScimSettings {
        automatic_invitation: automatic,
        ..TenantScimSettings::default()
    }
    .effective_for_user(&UserOverrides::default())
}

fn policy() -> InvitationPolicy {
    InvitationPolicy::default()
}

/// The states of the table, each reached through legal transitions only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fixture {
    StagedNoInvitation,
    StagedQueued,
    Invited,
    InvitedExpired,
    InvitedRequeued,
    Active,
    SuspendedFromStaged,
    SuspendedFromInvited,
    SuspendedFromActive,
    CreatedSuspended,
    Deleted,
}

/// Builds the fixture and returns it with the time at which commands are applied.
fn build(f: Fixture) -> (UserLifecycle, DateTime<Utc>) {
    let soon = t0() + TimeDelta::hours(1);
    let late = t0() + TimeDelta::days(8);
    let device = || Some(MobileDevice::new("phone"));
    let (mut u, _) = UserLifecycle::provision(&settings(true), true, t0());
    let now = match f {
        Fixture::StagedNoInvitation => {
            u = UserLifecycle::provision(&settings(false), true, t0()).0;
            soon
        }
        Fixture::StagedQueued => soon,
        Fixture::Invited => {
            u.release_invitation(&policy(), t0()).unwrap();
            soon
        }
        Fixture::InvitedExpired => {
            u.release_invitation(&policy(), t0()).unwrap();
            late
        }
        Fixture::InvitedRequeued => {
            u.release_invitation(&policy(), t0()).unwrap();
            u.invite(late).unwrap();
            late + TimeDelta::hours(1)
        }
        Fixture::Active => {
            u.release_invitation(&policy(), t0()).unwrap();
            u.activate(device(), true, t0()).unwrap();
            soon
        }
        Fixture::SuspendedFromStaged => {
            u.deactivate(t0()).unwrap();
            soon
        }
        Fixture::SuspendedFromInvited => {
            u.release_invitation(&policy(), t0()).unwrap();
            u.deactivate(t0()).unwrap();
            soon
        }
        Fixture::SuspendedFromActive => {
            u.release_invitation(&policy(), t0()).unwrap();
            u.activate(device(), true, t0()).unwrap();
            u.deactivate(t0()).unwrap();
            soon
        }
        Fixture::CreatedSuspended => {
            u = UserLifecycle::provision(&settings(true), false, t0()).0;
            soon
        }
        Fixture::Deleted => {
            u.release_invitation(&policy(), t0()).unwrap();
            u.activate(device(), true, t0()).unwrap();
            u.delete(t0()).unwrap();
            soon
        }
    };
    (u, now)
}

const COMMANDS: [&str; 10] = [
    "provision",
    "invite",
    "release",
    "activate+device",
    "activate, device required, none",
    "activate, device not required, none",
    "enrol device",
    "deactivate",
    "reactivate",
    "delete",
];

fn command(i: usize) -> Command {
    match i {
        0 => Command::Provision {
            settings: settings(true),
            active: true,
        },
        1 => Command::Invite,
        2 => Command::ReleaseInvitation { policy: policy() },
        3 => Command::Activate {
            mobile_device: Some(MobileDevice::new("phone 2")),
            requires_mobile_auth: true,
        },
        4 => Command::Activate {
            mobile_device: None,
            requires_mobile_auth: true,
        },
        5 => Command::Activate {
            mobile_device: None,
            requires_mobile_auth: false,
        },
        6 => Command::EnrollMobileDevice {
            device: MobileDevice::new("phone 3"),
        },
        7 => Command::Deactivate,
        8 => Command::Reactivate,
        9 => Command::Delete,
        _ => unreachable!(),
    }
}

#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Legal: the new status and the names of the events, in order.
    Go(Status, &'static [&'static str]),
    /// Illegal: the reason.
    No(Rejection),
}

#[test]
fn every_state_and_command() {
    use Expect::{Go, No};
    use Rejection::*;
    use Status::{Active, Deleted, Invited, Staged, Suspended};
    let expired = InvitationExpired {
        expired_at: t0() + TimeDelta::days(7),
    };
    const SUSPEND: &[&str] = &["userSuspended"];
    const SUSPEND_QUEUED: &[&str] = &["userSuspended", "invitationCancelled", "invitationHeld"];
    const DELETE: &[&str] = &["userDeleted"];
    const DELETE_CANCEL: &[&str] = &["invitationCancelled", "userDeleted"];
    const QUEUE: &[&str] = &["invitationQueued"];
    const RELEASE: &[&str] = &["invitationReleased"];
    // Columns: provision, invite, release, activate+device,
    // activate (required, no device), activate (not required, no device),
    // enrol device, deactivate, reactivate, delete.
    let table: [(Fixture, [Expect; 10]); 11] = [
        (
            Fixture::StagedNoInvitation,
            [
                No(AlreadyProvisioned),
                Go(Staged, QUEUE),
                No(NoQueuedInvitation),
                No(NotInvited),
                No(NotInvited),
                No(NotInvited),
                No(NotActive),
                Go(Suspended, SUSPEND),
                No(NotSuspended),
                Go(Deleted, DELETE),
            ],
        ),
        (
            Fixture::StagedQueued,
            [
                No(AlreadyProvisioned),
                No(InvitationAlreadyQueued),
                Go(Invited, RELEASE),
                No(InvitationNotReleased),
                No(InvitationNotReleased),
                No(InvitationNotReleased),
                No(NotActive),
                Go(Suspended, SUSPEND_QUEUED),
                No(NotSuspended),
                Go(Deleted, DELETE_CANCEL),
            ],
        ),
        (
            Fixture::Invited,
            [
                No(AlreadyProvisioned),
                No(AlreadyInvited),
                No(NoQueuedInvitation),
                Go(
                    Active,
                    &[
                        "invitationAccepted",
                        "mobileDeviceEnrolled",
                        "userActivated",
                    ],
                ),
                No(MobileDeviceRequired),
                Go(Active, &["invitationAccepted", "userActivated"]),
                No(NotActive),
                Go(Suspended, SUSPEND),
                No(NotSuspended),
                Go(Deleted, DELETE_CANCEL),
            ],
        ),
        (
            Fixture::InvitedExpired,
            [
                No(AlreadyProvisioned),
                Go(Invited, QUEUE),
                No(NoQueuedInvitation),
                No(expired),
                No(expired),
                No(expired),
                No(NotActive),
                Go(Suspended, SUSPEND),
                No(NotSuspended),
                Go(Deleted, DELETE_CANCEL),
            ],
        ),
        (
            Fixture::InvitedRequeued,
            [
                No(AlreadyProvisioned),
                No(InvitationAlreadyQueued),
                Go(Invited, RELEASE),
                No(InvitationNotReleased),
                No(InvitationNotReleased),
                No(InvitationNotReleased),
                No(NotActive),
                Go(Suspended, SUSPEND_QUEUED),
                No(NotSuspended),
                Go(Deleted, DELETE_CANCEL),
            ],
        ),
        (
            Fixture::Active,
            [
                No(AlreadyProvisioned),
                No(AlreadyActive),
                No(NoQueuedInvitation),
                No(AlreadyActive),
                No(AlreadyActive),
                No(AlreadyActive),
                Go(Active, &["mobileDeviceEnrolled"]),
                Go(Suspended, SUSPEND),
                No(NotSuspended),
                Go(Deleted, DELETE),
            ],
        ),
        (
            Fixture::SuspendedFromStaged,
            [
                No(AlreadyProvisioned),
                No(UserSuspended),
                No(UserSuspended),
                No(UserSuspended),
                No(UserSuspended),
                No(UserSuspended),
                No(UserSuspended),
                No(AlreadySuspended),
                Go(Staged, &["userReactivated", "invitationQueued"]),
                Go(Deleted, DELETE),
            ],
        ),
        (
            Fixture::SuspendedFromInvited,
            [
                No(AlreadyProvisioned),
                No(UserSuspended),
                No(UserSuspended),
                No(UserSuspended),
                No(UserSuspended),
                No(UserSuspended),
                No(UserSuspended),
                No(AlreadySuspended),
                Go(Invited, &["userReactivated"]),
                Go(Deleted, DELETE_CANCEL),
            ],
        ),
        (
            Fixture::SuspendedFromActive,
            [
                No(AlreadyProvisioned),
                No(UserSuspended),
                No(UserSuspended),
                No(UserSuspended),
                No(UserSuspended),
                No(UserSuspended),
                No(UserSuspended),
                No(AlreadySuspended),
                Go(Active, &["userReactivated"]),
                Go(Deleted, DELETE),
            ],
        ),
        (
            Fixture::CreatedSuspended,
            [
                No(AlreadyProvisioned),
                No(UserSuspended),
                No(UserSuspended),
                No(UserSuspended),
                No(UserSuspended),
                No(UserSuspended),
                No(UserSuspended),
                No(AlreadySuspended),
                Go(Staged, &["userReactivated", "invitationQueued"]),
                Go(Deleted, DELETE),
            ],
        ),
        (Fixture::Deleted, [No(UserDeleted); 10]),
    ];

    let mut legal = 0;
    let mut illegal = 0;
    for (fixture, row) in table {
        for (i, expect) in row.into_iter().enumerate() {
            let (mut user, now) = build(fixture);
            let before = user.clone();
            let cmd = command(i);
            let kind = cmd.kind();
            let context = format!("{fixture:?} × {}", COMMANDS[i]);
            match (user.apply(cmd, now), expect) {
                (Ok(events), Go(status, names)) => {
                    legal += 1;
                    assert_eq!(user.status(), status, "{context}: status");
                    let got: Vec<_> = events.iter().map(Event::name).collect();
                    assert_eq!(got, names, "{context}: events");
                    assert!(
                        events.iter().all(|e| e.at() == now),
                        "{context}: event times"
                    );
                    // The result is a state the store can save and load again.
                    let reloaded = UserLifecycle::from_record(user.to_record());
                    assert_eq!(reloaded.as_ref(), Ok(&user), "{context}: record");
                }
                (Err(err), No(reason)) => {
                    illegal += 1;
                    assert_eq!(err.reason, reason, "{context}: reason");
                    assert_eq!(err.from, before.status(), "{context}: from");
                    assert_eq!(err.command, kind, "{context}: command");
                    assert_eq!(
                        user, before,
                        "{context}: a refused command changed the user"
                    );
                }
                (got, want) => panic!("{context}: got {got:?}, want {want:?}"),
            }
        }
    }
    assert_eq!(legal + illegal, 110);
    assert_eq!(legal, 27);
}

#[test]
fn fixtures_are_what_they_claim() {
    use Fixture::*;
    let cases = [
        (StagedNoInvitation, Status::Staged, None, None),
        (
            StagedQueued,
            Status::Staged,
            None,
            Some(InvitationState::Queued),
        ),
        (Invited, Status::Invited, None, Some(InvitationState::Sent)),
        (
            InvitedExpired,
            Status::Invited,
            None,
            Some(InvitationState::Sent),
        ),
        (
            InvitedRequeued,
            Status::Invited,
            None,
            Some(InvitationState::Queued),
        ),
        (
            Active,
            Status::Active,
            None,
            Some(InvitationState::Accepted),
        ),
        (
            SuspendedFromStaged,
            Status::Suspended,
            Some(Status::Staged),
            Some(InvitationState::Cancelled),
        ),
        (
            SuspendedFromInvited,
            Status::Suspended,
            Some(Status::Invited),
            Some(InvitationState::Sent),
        ),
        (
            SuspendedFromActive,
            Status::Suspended,
            Some(Status::Active),
            Some(InvitationState::Accepted),
        ),
        (
            CreatedSuspended,
            Status::Suspended,
            Some(Status::Staged),
            None,
        ),
        (
            Deleted,
            Status::Deleted,
            None,
            Some(InvitationState::Accepted),
        ),
    ];
    for (f, status, restore, invitation) in cases {
        let (u, now) = build(f);
        assert_eq!(u.status(), status, "{f:?}");
        assert_eq!(u.restore_to(), restore, "{f:?}");
        assert_eq!(u.invitation().map(|i| i.state), invitation, "{f:?}");
        assert_eq!(u.scim_active(), status != Status::Suspended, "{f:?}");
        let expired = u.invitation().is_some_and(|i| i.is_expired(now));
        assert_eq!(expired, f == InvitedExpired, "{f:?}");
    }
}

#[test]
fn provisioning_every_setting_and_active_flag() {
    // (automatic invitation, active) -> (status, remembered, queued, held, events)
    type Row = (
        bool,
        bool,
        Status,
        Option<Status>,
        bool,
        bool,
        &'static [&'static str],
    );
    let table: [Row; 4] = [
        (
            false,
            true,
            Status::Staged,
            None,
            false,
            false,
            &["userProvisioned"],
        ),
        (
            true,
            true,
            Status::Staged,
            None,
            true,
            false,
            &["userProvisioned", "invitationQueued"],
        ),
        (
            false,
            false,
            Status::Suspended,
            Some(Status::Staged),
            false,
            false,
            &["userProvisioned", "userSuspended"],
        ),
        (
            true,
            false,
            Status::Suspended,
            Some(Status::Staged),
            false,
            true,
            &["userProvisioned", "userSuspended", "invitationHeld"],
        ),
    ];
    for (automatic, active, status, restore, queued, held, names) in table {
        let (u, events) = UserLifecycle::provision(&settings(automatic), active, t0());
        let ctx = format!("automatic={automatic} active={active}");
        assert_eq!(u.status(), status, "{ctx}");
        assert_eq!(u.restore_to(), restore, "{ctx}");
        assert_eq!(u.has_queued_invitation(), queued, "{ctx}");
        assert_eq!(u.invitation_held(), held, "{ctx}");
        assert_eq!(u.scim_active(), active, "{ctx}");
        let got: Vec<_> = events.iter().map(Event::name).collect();
        assert_eq!(got, names, "{ctx}");
    }
}

// ---------------------------------------------------------------- access

#[test]
fn access_every_combination_of_facts() {
    let mut checked = 0;
    for member in [Membership::DirectMember, Membership::NotMember] {
        for status in Status::ALL {
            for device in [false, true] {
                for tenant_groups in [false, true] {
                    for o in Override::ALL {
                        for store in [false, true] {
                            let tenant = TenantScimSettings {
                                require_mobile_auth_for_groups: tenant_groups,
                                ..TenantScimSettings::default()
                            };
                            let group = tenant.effective_for_group(&GroupSettings {
                                require_mobile_auth: o,
                                members_can_store_data: store,
                            });
                            let user = UserAccessFacts {
                                status,
                                mobile_device_enrolled: device,
                            };
                            let d = decide_group_access(&user, &group, member);
                            let ctx = format!(
                                "{member:?} {status} device={device} tenant={tenant_groups} {o:?} store={store}"
                            );

                            // The access rule, written as the four conditions.
                            let is_member = member == Membership::DirectMember;
                            let not_blocked =
                                !matches!(status, Status::Suspended | Status::Deleted);
                            let requires = expected(tenant_groups, o).value;
                            let phone_ok = !requires || device;
                            assert_eq!(d.can_view, is_member && not_blocked && phone_ok, "{ctx}");
                            assert_eq!(d.can_store, d.can_view && store, "{ctx}");

                            // Exactly the failed conditions are denials, one reason per condition.
                            assert_eq!(d.reasons.len(), 4, "{ctx}");
                            let denied: Vec<_> = d.denials().copied().collect();
                            let mut want = Vec::new();
                            if !is_member {
                                want.push(AccessReason::NotMember);
                            }
                            if status == Status::Suspended {
                                want.push(AccessReason::UserSuspended);
                            }
                            if status == Status::Deleted {
                                want.push(AccessReason::UserDeleted);
                            }
                            if !phone_ok {
                                want.push(AccessReason::MobileDeviceMissing(
                                    expected(tenant_groups, o).source,
                                ));
                            }
                            if !store {
                                want.push(AccessReason::StoringDisabled);
                            }
                            assert_eq!(denied, want, "{ctx}");
                            checked += 1;
                        }
                    }
                }
            }
        }
    }
    assert_eq!(checked, 2 * 5 * 2 * 2 * 3 * 2);
}

#[test]
fn access_decision_prints_for_the_admin_api() {
    let group = TenantScimSettings::default().effective_for_group(&GroupSettings::default());
    let user = UserAccessFacts {
        status: Status::Suspended,
        mobile_device_enrolled: true,
    };
    let d = decide_group_access(&user, &group, Membership::DirectMember);
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(json["canView"], false);
    assert_eq!(json["canStore"], false);
    let reasons = json["reasons"].as_array().unwrap();
    assert_eq!(reasons.len(), 4);
    assert_eq!(reasons[1]["code"], "userSuspended");
    assert_eq!(reasons[1]["allows"], false);
    assert_eq!(
        reasons[1]["message"],
        "the user is suspended by the directory and has no access"
    );
    assert_eq!(reasons[2]["code"], "mobileDeviceEnrolled");
    assert_eq!(reasons[2]["allows"], true);
}

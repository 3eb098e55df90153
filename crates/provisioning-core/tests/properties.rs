//! Property tests over random sequences of lifecycle commands.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use proptest::prelude::*;
use provisioning_core::*;
use std::collections::HashSet;

#[derive(Debug, Clone)]
enum Step {
    Invite,
    CheckIn,
    Activate {
        with_device: bool,
    },
    Enroll,
    Deactivate,
    Reactivate,
    Delete,
    Wait {
        hours: i64,
    },
    /// A command the rules must refuse, whatever the state.
    Reprovision,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => Just(Step::Invite),
        3 => Just(Step::CheckIn),
        3 => any::<bool>().prop_map(|with_device| Step::Activate { with_device }),
        1 => Just(Step::Enroll),
        3 => Just(Step::Deactivate),
        3 => Just(Step::Reactivate),
        1 => Just(Step::Delete),
        2 => (0i64..=24 * 9).prop_map(|hours| Step::Wait { hours }),
        1 => Just(Step::Reprovision),
    ]
}

#[derive(Debug, Clone)]
struct Scenario {
    tenant: TenantScimSettings,
    overrides: UserOverrides,
    active: bool,
    steps: Vec<Step>,
}

fn override_strategy() -> impl Strategy<Value = Override> {
    prop_oneof![
        Just(Override::Inherit),
        Just(Override::On),
        Just(Override::Off)
    ]
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        any::<(bool, bool, bool)>(),
        override_strategy(),
        override_strategy(),
        prop::bool::weighted(0.85),
        prop::collection::vec(step(), 0..40),
    )
        .prop_map(|((a, u, g), ai, rm, active, steps)| Scenario {
            tenant: TenantScimSettings {
                automatic_invitation: a,
                require_mobile_auth_for_users: u,
                require_mobile_auth_for_groups: g,
            },
            overrides: UserOverrides {
                automatic_invitation: ai,
                require_mobile_auth: rm,
            },
            active,
            steps,
        })
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, 8, 0, 0).unwrap()
}

/// One executed step: the state before and after, the command's outcome.
#[derive(Debug)]
struct Record {
    before: UserLifecycle,
    after: UserLifecycle,
    kind: Option<CommandKind>,
    outcome: Result<Vec<Event>, TransitionError>,
    now: DateTime<Utc>,
}

struct Run {
    settings: EffectiveUserSettings,
    provisioned: UserLifecycle,
    provision_events: Vec<Event>,
    records: Vec<Record>,
}

impl Run {
    /// Every event, provisioning first, in order.
    fn events(&self) -> impl Iterator<Item = &Event> {
        self.provision_events.iter().chain(
            self.records
                .iter()
                .filter_map(|r| r.outcome.as_ref().ok())
                .flatten(),
        )
    }
}

fn run(s: &Scenario) -> Run {
    let settings = s.tenant.effective_for_user(&s.overrides);
    let requires = settings.require_mobile_auth.value;
    let mut now = t0();
    let (mut user, provision_events) = UserLifecycle::provision(&settings, s.active, now);
    let provisioned = user.clone();
    let mut records = Vec::new();
    for (i, st) in s.steps.iter().enumerate() {
        let before = user.clone();
        let command = match st {
            Step::Wait { hours } => {
                now += TimeDelta::hours(*hours);
                None
            }
            Step::Invite => Some(Command::Invite),
            Step::CheckIn => Some(Command::ReleaseInvitation {
                policy: InvitationPolicy::default(),
            }),
            Step::Activate { with_device } => Some(Command::Activate {
                mobile_device: with_device.then(|| MobileDevice::new(format!("phone {i}"))),
                requires_mobile_auth: requires,
            }),
            Step::Enroll => Some(Command::EnrollMobileDevice {
                device: MobileDevice::new(format!("phone {i}")),
            }),
            Step::Deactivate => Some(Command::Deactivate),
            Step::Reactivate => Some(Command::Reactivate),
            Step::Delete => Some(Command::Delete),
            Step::Reprovision => Some(Command::Provision {
                settings,
                active: true,
            }),
        };
        let Some(command) = command else { continue };
        let kind = command.kind();
        let outcome = user.apply(command, now);
        records.push(Record {
            before,
            after: user.clone(),
            kind: Some(kind),
            outcome,
            now,
        });
    }
    Run {
        settings,
        provisioned,
        provision_events,
        records,
    }
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 512,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// A deleted user never changes again: every later command is refused
    /// with `UserDeleted` and leaves the user as it was.
    #[test]
    fn deleted_user_never_changes(s in scenario()) {
        let r = run(&s);
        let mut deleted: Option<UserLifecycle> = None;
        for rec in &r.records {
            if let Some(frozen) = &deleted {
                prop_assert_eq!(&rec.after, frozen);
                let err = rec.outcome.as_ref().unwrap_err();
                prop_assert_eq!(err.reason, Rejection::UserDeleted);
            } else if rec.after.status() == Status::Deleted {
                deleted = Some(rec.after.clone());
            }
        }
    }

    /// Refused commands change nothing; accepted ones emit at least one
    /// event, stamped with `now`, and leave a state that round-trips
    /// through the store's record. The SCIM `active` flag is false exactly
    /// when suspended.
    #[test]
    fn transitions_are_atomic_and_consistent(s in scenario()) {
        let r = run(&s);
        prop_assert!(UserLifecycle::from_record(r.provisioned.to_record()).is_ok());
        for rec in &r.records {
            match &rec.outcome {
                Err(err) => {
                    prop_assert_eq!(&rec.after, &rec.before);
                    prop_assert_eq!(err.from, rec.before.status());
                    prop_assert_eq!(Some(err.command), rec.kind);
                }
                Ok(events) => {
                    prop_assert!(!events.is_empty());
                    prop_assert!(events.iter().all(|e| e.at() == rec.now));
                }
            }
            let reloaded = UserLifecycle::from_record(rec.after.to_record());
            prop_assert_eq!(reloaded.as_ref(), Ok(&rec.after));
            prop_assert_eq!(rec.after.scim_active(), rec.after.status() != Status::Suspended);
        }
    }

    /// Suspending and then reactivating gives back the status the user had
    /// before the suspension, whatever happened in between (refused
    /// commands, time passing).
    #[test]
    fn reactivation_restores_the_status_before_suspension(s in scenario()) {
        let r = run(&s);
        let mut before_suspension = (!s.active).then_some(Status::Staged);
        for rec in &r.records {
            if rec.outcome.is_err() { continue; }
            match rec.kind {
                Some(CommandKind::Deactivate) => {
                    prop_assert_eq!(rec.after.status(), Status::Suspended);
                    before_suspension = Some(rec.before.status());
                }
                Some(CommandKind::Reactivate) => {
                    let expected = before_suspension.take();
                    prop_assert_eq!(Some(rec.after.status()), expected);
                    prop_assert_eq!(rec.after.mobile_device(), rec.before.mobile_device());
                }
                _ => {}
            }
        }
    }

    /// Deactivate immediately followed by reactivate, from any reachable
    /// state, is a round trip: same status, same device, the same pending
    /// (queued) invitation situation, and nobody gets an invitation sent.
    #[test]
    fn suspend_then_reactivate_round_trip(s in scenario()) {
        let r = run(&s);
        let now = t0() + TimeDelta::days(365);
        let states = std::iter::once(&r.provisioned).chain(r.records.iter().map(|x| &x.after));
        for state in states {
            if matches!(state.status(), Status::Suspended | Status::Deleted) { continue; }
            let mut u = state.clone();
            u.deactivate(now).unwrap();
            prop_assert!(!u.has_queued_invitation());
            let events = u.reactivate(now).unwrap();
            prop_assert_eq!(u.status(), state.status());
            prop_assert_eq!(u.mobile_device(), state.mobile_device());
            prop_assert_eq!(u.has_queued_invitation(), state.has_queued_invitation());
            prop_assert!(!events.iter().any(Event::is_outbox));
        }
    }

    /// An invitation is never released twice, only queued invitations are
    /// released, and a cancelled invitation is never released.
    #[test]
    fn invitation_never_released_twice(s in scenario()) {
        let r = run(&s);
        let mut queued = HashSet::new();
        let mut cancelled = HashSet::new();
        let mut released = HashSet::new();
        for e in r.events() {
            match e {
                Event::InvitationQueued { invitation, .. } => {
                    prop_assert!(queued.insert(*invitation), "invitation #{} queued twice", invitation);
                }
                Event::InvitationCancelled { invitation, .. } => {
                    cancelled.insert(*invitation);
                }
                Event::InvitationReleased { invitation, .. } => {
                    prop_assert!(queued.contains(invitation));
                    prop_assert!(!cancelled.contains(invitation));
                    prop_assert!(released.insert(*invitation), "invitation #{} released twice", invitation);
                }
                _ => {}
            }
        }
    }

    /// Once an invitation has gone out, the user never gets another one
    /// except by an administrator's explicit invitation after the link
    /// expired; automatic invitations are queued at creation only.
    #[test]
    fn no_second_invitation_for_someone_invited(s in scenario()) {
        let r = run(&s);
        let mut sent = false;
        // An administrator asked for a new invitation since the last one went out
        // (it may have been held by a suspension and queued again on reactivation).
        let mut explicit_since_release = false;
        for (i, e) in r.events().enumerate() {
            match e {
                Event::InvitationReleased { .. } => {
                    sent = true;
                    explicit_since_release = false;
                }
                Event::InvitationQueued { trigger, .. } => {
                    if sent {
                        prop_assert!(
                            *trigger == InvitationTrigger::Explicit || explicit_since_release,
                            "invitation queued again ({:?}) for someone already invited", trigger
                        );
                    }
                    if *trigger == InvitationTrigger::Explicit {
                        explicit_since_release = true;
                    }
                    if *trigger == InvitationTrigger::Automatic {
                        prop_assert!(i < r.provision_events.len());
                    }
                }
                _ => {}
            }
        }
        // Automatic invitation off and no explicit invitation: nothing is ever queued.
        let explicit = r.records.iter().any(|x| x.kind == Some(CommandKind::Invite) && x.outcome.is_ok());
        if !r.settings.automatic_invitation.value && !explicit {
            let any_queued = r.events().any(|e| matches!(e, Event::InvitationQueued { .. }));
            prop_assert!(!any_queued);
        }
    }

    /// Nobody becomes Active without accepting a released invitation, and a
    /// user who needs mobile authentication never becomes Active without a
    /// mobile device.
    #[test]
    fn active_needs_accepted_invitation_and_device(s in scenario()) {
        let r = run(&s);
        let requires = r.settings.require_mobile_auth.value;
        prop_assert_ne!(r.provisioned.status(), Status::Active);
        let mut released = HashSet::new();
        let mut accepted = HashSet::new();
        for rec in &r.records {
            for e in rec.outcome.iter().flatten() {
                match e {
                    Event::InvitationReleased { invitation, .. } => { released.insert(*invitation); }
                    Event::InvitationAccepted { invitation, .. } => {
                        prop_assert!(released.contains(invitation));
                        prop_assert!(accepted.insert(*invitation));
                    }
                    _ => {}
                }
            }
            if rec.after.status() == Status::Active {
                let inv = rec.after.invitation().unwrap();
                prop_assert_eq!(inv.state, InvitationState::Accepted);
                prop_assert!(accepted.contains(&inv.number));
                if requires {
                    prop_assert!(rec.after.mobile_device_enrolled());
                }
            }
            if rec.before.status() != Status::Active && rec.after.status() == Status::Active {
                // Only activation or reactivation of a previously active user.
                prop_assert!(matches!(rec.kind, Some(CommandKind::Activate | CommandKind::Reactivate)));
                let inv = rec.before.invitation().unwrap();
                if rec.kind == Some(CommandKind::Activate) {
                    prop_assert_eq!(inv.state, InvitationState::Sent);
                    prop_assert!(!inv.is_expired(rec.now));
                }
            }
        }
    }

    /// An admin check-in releases exactly the queued invitations, all of
    /// them, and a second check-in right after releases nothing.
    #[test]
    fn check_in_releases_everything_queued_once(scenarios in prop::collection::vec(scenario(), 1..6)) {
        let mut users: Vec<UserLifecycle> = scenarios
            .iter()
            .map(|s| {
                let r = run(s);
                r.records.last().map_or(r.provisioned.clone(), |x| x.after.clone())
            })
            .collect();
        let queued: Vec<usize> = users
            .iter()
            .enumerate()
            .filter(|(_, u)| u.has_queued_invitation())
            .map(|(i, _)| i)
            .collect();
        let before = users.clone();
        let now = t0() + TimeDelta::days(400);
        let outcome = admin_check_in(users.iter_mut().enumerate(), &InvitationPolicy::default(), now);
        let released: Vec<usize> = outcome.released.iter().map(|(k, _)| *k).collect();
        prop_assert_eq!(&released, &queued);
        for (i, u) in users.iter().enumerate() {
            if queued.contains(&i) {
                prop_assert_eq!(u.status(), Status::Invited);
                prop_assert_eq!(u.invitation().unwrap().state, InvitationState::Sent);
            } else {
                prop_assert_eq!(u, &before[i]);
            }
        }
        let again = admin_check_in(users.iter_mut().enumerate(), &InvitationPolicy::default(), now);
        prop_assert_eq!(again.released_count(), 0);
    }
}

//! The provisioning product's rules, pure.
//!
//! This crate is the rulebook of the SCIM provisioning server: tenant SCIM
//! settings and individual overrides, the lifecycle of a provisioned user
//! (Staged, Invited, Active, Suspended, Deleted), invitation gating by admin
//! check-ins, and the group-data access decisions with their reasons. It does
//! no I/O and never reads the clock: every time (`now`) is an argument, so a
//! policy can be unit-tested in isolation.
//!
//! The walk-through below follows the customer setup guide ("About SCIM
//! settings in Uniqkey", "Deciding who you want to provision") setting by
//! setting. Every example runs as a doc test.
//!
//! # 1. The tenant's SCIM settings and their defaults
//!
//! Admin portal → Settings → Integrations shows three switches.
//! [`TenantScimSettings::default`] is what a new tenant starts with:
//!
//! ```
//! use provisioning_core::TenantScimSettings;
//!
//! let tenant = TenantScimSettings::default();
//! assert!(!tenant.automatic_invitation);          // "leave this disabled" to control activation
//! assert!(tenant.require_mobile_auth_for_users);  // "Enabled = yes": users must use the mobile app
//! assert!(tenant.require_mobile_auth_for_groups); // "Enabled = no": group data hidden from phoneless users
//! ```
//!
//! # 2. Individual settings override the defaults, and say so
//!
//! "Individual settings for users and groups can be enabled and will override
//! the default SCIM settings." An [`Override`] is inherit / on / off; every
//! effective value carries its [`Source`], and prints the way the admin API
//! shows it:
//!
//! ```
//! use provisioning_core::*;
//!
//! let tenant = TenantScimSettings::default();
//! let overrides = UserOverrides {
//!     require_mobile_auth: Override::Off, // this user may work without the app
//!     ..UserOverrides::default()
//! };
//! let effective = tenant.effective_for_user(&overrides);
//! assert_eq!(effective.require_mobile_auth, Effective { value: false, source: Source::Override });
//! assert_eq!(effective.automatic_invitation, Effective { value: false, source: Source::TenantDefault });
//!
//! let json = serde_json::to_value(effective).unwrap();
//! assert_eq!(json, serde_json::json!({
//!     "automaticInvitation": {"value": false, "source": "tenantDefault"},
//!     "requireMobileAuth": {"value": false, "source": "override"}
//! }));
//! ```
//!
//! # 3. Automatic invitation off: users wait, Staged, until an admin invites
//!
//! "Users will be provisioned to Uniqkey with the status Staged." Without
//! automatic invitation nothing is queued; an explicit invitation is queued
//! and, like every invitation, only goes out when an administrator opens the
//! mobile app (an admin check-in, [`admin_check_in`]).
//!
//! ```
//! use provisioning_core::*;
//! # let now = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
//!
//! let settings = TenantScimSettings::default().effective_for_user(&UserOverrides::default());
//! let (mut alice, _events) = UserLifecycle::provision(&settings, true, now);
//! assert_eq!(alice.status(), Status::Staged);
//! assert!(!alice.has_queued_invitation());
//!
//! // A check-in releases nothing for her...
//! let outcome = admin_check_in([("alice", &mut alice)], &InvitationPolicy::default(), now);
//! assert_eq!(outcome.released_count(), 0);
//! assert_eq!(alice.status(), Status::Staged);
//!
//! // ...until an admin invites her; then the next check-in sends the email.
//! alice.invite(now)?;
//! assert_eq!(alice.status(), Status::Staged);
//! let outcome = admin_check_in([("alice", &mut alice)], &InvitationPolicy::default(), now);
//! assert_eq!(outcome.released_count(), 1);
//! assert_eq!(alice.status(), Status::Invited);
//! # Ok::<(), TransitionError>(())
//! ```
//!
//! # 4. Automatic invitation on: queued at creation, sent at the next check-in
//!
//! "If you have enabled automatic invitation ..., they will receive an
//! invitation email once an administrator in your organisation opens their
//! Uniqkey mobile app." Each check-in releases everything queued so far.
//!
//! ```
//! use provisioning_core::*;
//! # let now = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
//!
//! let tenant = TenantScimSettings { automatic_invitation: true, ..TenantScimSettings::default() };
//! let settings = tenant.effective_for_user(&UserOverrides::default());
//! let (mut bob, events) = UserLifecycle::provision(&settings, true, now);
//! assert!(events.iter().any(|e| matches!(e,
//!     Event::InvitationQueued { trigger: InvitationTrigger::Automatic, .. })));
//! assert_eq!(bob.status(), Status::Staged); // still Staged: nothing is sent yet
//!
//! // A user can opt out individually even though the tenant sends invitations.
//! let opted_out = tenant.effective_for_user(&UserOverrides {
//!     automatic_invitation: Override::Off,
//!     ..UserOverrides::default()
//! });
//! let (mut carol, _) = UserLifecycle::provision(&opted_out, true, now);
//!
//! let outcome = admin_check_in(
//!     [("bob", &mut bob), ("carol", &mut carol)],
//!     &InvitationPolicy::default(),
//!     now,
//! );
//! assert_eq!(outcome.released.len(), 1);
//! assert_eq!(outcome.released[0].0, "bob");
//! assert!(outcome.released[0].1.iter().any(Event::is_outbox)); // the email to send
//! assert_eq!((bob.status(), carol.status()), (Status::Invited, Status::Staged));
//! ```
//!
//! # 5. Require mobile authentication for users: activation enrols a device
//!
//! "Are users provisioned via SCIM required to use a Uniqkey mobile app?
//! Enabled = yes." Activation is refused without a device, with a typed
//! error a support person can read; the link expires after 7 days by default.
//!
//! ```
//! use provisioning_core::*;
//! use chrono::TimeDelta;
//! # let now = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
//!
//! let tenant = TenantScimSettings { automatic_invitation: true, ..TenantScimSettings::default() };
//! let settings = tenant.effective_for_user(&UserOverrides::default());
//! let (mut dave, _) = UserLifecycle::provision(&settings, true, now);
//! dave.release_invitation(&InvitationPolicy::default(), now)?;
//!
//! let requires = settings.require_mobile_auth.value; // true, by tenant default
//! let err = dave.activate(None, requires, now).unwrap_err();
//! assert_eq!(err.reason, Rejection::MobileDeviceRequired);
//! assert_eq!(dave.status(), Status::Invited); // a refused transition changes nothing
//! println!("{err}"); // "cannot activate a user who is Invited: mobile authentication is required ..."
//!
//! dave.activate(Some(MobileDevice::new("Dave's phone")), requires, now + TimeDelta::hours(1))?;
//! assert_eq!(dave.status(), Status::Active);
//! assert!(dave.mobile_device_enrolled());
//!
//! // After 7 days an unused link is dead.
//! let (mut erin, _) = UserLifecycle::provision(&settings, true, now);
//! erin.release_invitation(&InvitationPolicy::default(), now)?;
//! let late = now + TimeDelta::days(8);
//! assert!(erin.invitation().unwrap().is_expired(late));
//! let err = erin.activate(Some(MobileDevice::new("phone")), requires, late).unwrap_err();
//! assert!(matches!(err.reason, Rejection::InvitationExpired { .. }));
//! # Ok::<(), TransitionError>(())
//! ```
//!
//! # 6. Require mobile authentication for groups, and storing data in groups
//!
//! "Is data in the SCIM groups visible to phoneless users? Enabled = no."
//! "Members of the groups will ... by default be allowed to store data in
//! the groups specified. This can be disabled in ... Groups → (Group Name) →
//! Settings." [`decide_group_access`] answers both questions with reasons.
//!
//! ```
//! use provisioning_core::*;
//!
//! let tenant = TenantScimSettings::default();
//! let finance = tenant.effective_for_group(&GroupSettings::default());
//! assert!(finance.members_can_store_data); // on by default for SCIM groups
//!
//! let phoneless = UserAccessFacts { status: Status::Active, mobile_device_enrolled: false };
//! let decision = decide_group_access(&phoneless, &finance, Membership::DirectMember);
//! assert!(!decision.can_view);
//! let why: Vec<String> = decision.denials().map(ToString::to_string).collect();
//! assert_eq!(why, ["the group requires mobile authentication (the tenant default) and \
//!     the user has no mobile device enrolled, so its data is hidden from them"]);
//!
//! // The group's own setting lets phoneless members see it, but not store in it.
//! let read_only_open = tenant.effective_for_group(&GroupSettings {
//!     require_mobile_auth: Override::Off,
//!     members_can_store_data: false,
//! });
//! let decision = decide_group_access(&phoneless, &read_only_open, Membership::DirectMember);
//! assert!(decision.can_view && !decision.can_store);
//! assert!(decision.reasons.contains(&AccessReason::MobileNotRequired(Source::Override)));
//! assert!(decision.reasons.contains(&AccessReason::StoringDisabled));
//! ```
//!
//! # 7. Deactivation, reactivation and deletion by the directory
//!
//! `active: false` suspends at once and remembers the status; `active: true`
//! restores it. Nobody who was already sent an invitation gets a second one.
//!
//! **Decision: invitations held by a suspension.** A queued invitation is
//! cancelled when the user is suspended (an [`Event::InvitationCancelled`]),
//! because nothing may go out to a suspended user; the lifecycle remembers it
//! as *held* ([`Event::InvitationHeld`]). When the directory reactivates the
//! user, a held invitation is queued again ([`InvitationTrigger::Reactivation`],
//! a new invitation number) and goes out at the next check-in. This is not a
//! second invitation: the first was never sent. The same applies to a user
//! the directory *creates* with `active: false` while automatic invitation is
//! in effect for them: the automatic invitation decided at creation is held
//! and queued on reactivation. A user who had already been sent an invitation
//! keeps it through the suspension (it cannot be used while suspended) and
//! gets nothing new on reactivation. If its link expired meanwhile, an admin
//! can invite them again ([`UserLifecycle::invite`] accepts an Invited user
//! whose link expired). Deletion cancels queued and sent invitations and
//! drops a held one.
//!
//! ```
//! use provisioning_core::*;
//! # let now = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
//!
//! let tenant = TenantScimSettings { automatic_invitation: true, ..TenantScimSettings::default() };
//! let settings = tenant.effective_for_user(&UserOverrides::default());
//!
//! // Queued, then suspended before any check-in: cancelled and held.
//! let (mut frank, _) = UserLifecycle::provision(&settings, true, now);
//! frank.deactivate(now)?;
//! assert!(!frank.scim_active());
//! assert_eq!(frank.restore_to(), Some(Status::Staged));
//! assert_eq!(frank.invitation().unwrap().state, InvitationState::Cancelled);
//! // Reactivated: Staged again, invitation queued again (it was never sent).
//! let events = frank.reactivate(now)?;
//! assert_eq!(frank.status(), Status::Staged);
//! assert!(events.iter().any(|e| matches!(e,
//!     Event::InvitationQueued { trigger: InvitationTrigger::Reactivation, .. })));
//!
//! // Already invited: suspension and reactivation send nothing new.
//! frank.release_invitation(&InvitationPolicy::default(), now)?;
//! frank.deactivate(now)?;
//! let events = frank.reactivate(now)?;
//! assert_eq!(frank.status(), Status::Invited);
//! assert!(!events.iter().any(|e| matches!(e, Event::InvitationQueued { .. })));
//!
//! // Deleted is final: every later command is a typed error.
//! frank.delete(now)?;
//! let err = frank.reactivate(now).unwrap_err();
//! assert_eq!(err.reason, Rejection::UserDeleted);
//! # Ok::<(), TransitionError>(())
//! ```
//!
//! # 8. Driving it from a store
//!
//! [`UserLifecycle`] serialises as its [`LifecycleRecord`] and checks the
//! record when it is read back; [`Event`]s serialise for the audit log and
//! the outbox. The [`ports`] module has the small load/save traits and an
//! [`execute`] helper; the rules above never use them.
//!
//! ```
//! use provisioning_core::*;
//! # let now = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
//! let settings = TenantScimSettings::default().effective_for_user(&UserOverrides::default());
//! let (grace, _) = UserLifecycle::provision(&settings, true, now);
//! let stored = serde_json::to_string(&grace).unwrap();
//! let loaded: UserLifecycle = serde_json::from_str(&stored).unwrap();
//! assert_eq!(loaded, grace);
//!
//! // A record no sequence of transitions could produce is refused.
//! let forged = LifecycleRecord { status: Status::Active, ..grace.to_record() };
//! assert!(UserLifecycle::from_record(forged).is_err());
//! ```
#![warn(missing_docs)]

pub mod access;
pub mod events;
pub mod lifecycle;
pub mod ports;
pub mod settings;

pub use access::{AccessDecision, AccessReason, Membership, UserAccessFacts, decide_group_access};
pub use events::{CancelReason, Event};
pub use lifecycle::{
    CheckInOutcome, Command, CommandKind, Invitation, InvitationPolicy, InvitationState,
    InvitationTrigger, LifecycleRecord, MobileDevice, RecordError, Rejection,
    ReportedInvitationState, Status, TransitionError, UserLifecycle, admin_check_in,
};
pub use ports::{ExecuteError, LifecycleStore, SettingsStore, execute};
pub use settings::{
    Effective, EffectiveGroupSettings, EffectiveUserSettings, GroupSettings, Override, Source,
    TenantScimSettings, UserOverrides, resolve,
};

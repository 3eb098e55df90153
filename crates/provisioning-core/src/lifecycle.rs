//! The lifecycle of a SCIM-provisioned user, as a state machine.
//!
//! A [`UserLifecycle`] is created by [`UserLifecycle::provision`] and changed
//! only by its transitions (one method each, or [`UserLifecycle::apply`] over
//! a [`Command`]). Every transition returns the [`Event`]s it emitted, or a
//! [`TransitionError`] and leaves the lifecycle exactly as it was.
//!
//! | transition | from | to |
//! |---|---|---|
//! | [`provision`](UserLifecycle::provision) | (new) | Staged (invitation queued if automatic invitation is in effect), or Suspended if created with `active: false` |
//! | [`invite`](UserLifecycle::invite) | Staged without a queued invitation; Invited whose link expired | same status, invitation queued |
//! | [`release_invitation`](UserLifecycle::release_invitation) (admin check-in) | Staged or Invited with a queued invitation | Invited, invitation sent |
//! | [`activate`](UserLifecycle::activate) | Invited with a sent, unexpired invitation (and a device if mobile auth is required) | Active |
//! | [`enroll_mobile_device`](UserLifecycle::enroll_mobile_device) | Active | Active |
//! | [`deactivate`](UserLifecycle::deactivate) | Staged, Invited, Active | Suspended (queued invitation cancelled and held) |
//! | [`reactivate`](UserLifecycle::reactivate) | Suspended | the remembered status (held invitation queued again) |
//! | [`fail_invitation`](UserLifecycle::fail_invitation) (the email could not be delivered) | any user with that invitation released and not used | same status, invitation failed (a new one may be queued at once) |
//! | [`automatic_invitation_turned_off`](UserLifecycle::automatic_invitation_turned_off) | a user whose automatic invitation is still queued | same status, invitation cancelled |
//! | [`delete`](UserLifecycle::delete) | anything but Deleted | Deleted |

use crate::access::UserAccessFacts;
use crate::events::{CancelReason, Event};
use crate::settings::EffectiveUserSettings;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The product status of a user (not the SCIM `active` flag).
///
/// Serialises as `"Staged"`, `"Invited"`, `"Active"`, `"Suspended"`, `"Deleted"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Status {
    /// Provisioned, not yet sent an invitation.
    Staged,
    /// Sent an invitation (activation email), not yet activated.
    Invited,
    /// Activated their account.
    Active,
    /// Deactivated by the directory (`active: false`); no access, nothing deleted.
    Suspended,
    /// Deleted; never changes again.
    Deleted,
}

impl Status {
    /// Every status, in lifecycle order.
    pub const ALL: [Status; 5] = [
        Status::Staged,
        Status::Invited,
        Status::Active,
        Status::Suspended,
        Status::Deleted,
    ];

    /// The name as it serialises and as the admin API prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Staged => "Staged",
            Status::Invited => "Invited",
            Status::Active => "Active",
            Status::Suspended => "Suspended",
            Status::Deleted => "Deleted",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A mobile device enrolled by a user (`{"name": "..."}`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MobileDevice {
    /// The device's display name.
    pub name: String,
}

impl MobileDevice {
    /// A device with this name.
    pub fn new(name: impl Into<String>) -> Self {
        MobileDevice { name: name.into() }
    }
}

/// What queued an invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum InvitationTrigger {
    /// Automatic invitation was in effect when the user was provisioned.
    Automatic,
    /// An administrator invited the user.
    Explicit,
    /// The directory reactivated a user whose queued (never sent) invitation
    /// had been cancelled by their suspension.
    Reactivation,
}

impl fmt::Display for InvitationTrigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InvitationTrigger::Automatic => "automatic invitation",
            InvitationTrigger::Explicit => "invited by an administrator",
            InvitationTrigger::Reactivation => "queued again on reactivation",
        })
    }
}

/// The stored state of an invitation: the one type for the lifecycle, the
/// store's `invitations.state` column and the admin API. Its wire names
/// ([`InvitationState::as_str`], and serde) are `queued`, `sent`,
/// `accepted`, `cancelled` and `failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum InvitationState {
    /// Waiting for the next admin check-in.
    Queued,
    /// Released by an admin check-in: the activation email goes out.
    Sent,
    /// The user activated with it.
    Accepted,
    /// Cancelled (user suspended while queued, deleted, or automatic
    /// invitation turned off while queued); the link is dead.
    Cancelled,
    /// Released, but its email could not be delivered (no address, the
    /// relay refused it for good, or delivery gave up); the link is dead and
    /// the user may be invited again.
    Failed,
}

impl InvitationState {
    /// Every state.
    pub const ALL: [InvitationState; 5] = [
        InvitationState::Queued,
        InvitationState::Sent,
        InvitationState::Accepted,
        InvitationState::Cancelled,
        InvitationState::Failed,
    ];

    /// The wire name (as it serialises and as the store keeps it).
    pub fn as_str(self) -> &'static str {
        match self {
            InvitationState::Queued => "queued",
            InvitationState::Sent => "sent",
            InvitationState::Accepted => "accepted",
            InvitationState::Cancelled => "cancelled",
            InvitationState::Failed => "failed",
        }
    }

    /// The state with this wire name, if any.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl fmt::Display for InvitationState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state of an invitation as the admin API lists it: like
/// [`InvitationState`], plus `expired` for a sent invitation past its expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ReportedInvitationState {
    /// Waiting for the next admin check-in.
    Queued,
    /// Sent and still usable.
    Sent,
    /// Used to activate.
    Accepted,
    /// Sent, not used, past its expiry.
    Expired,
    /// Cancelled.
    Cancelled,
    /// Its email could not be delivered.
    Failed,
}

/// How long a released invitation's activation link stays usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvitationPolicy {
    /// Validity of the link from the moment it is released. Default: 7 days.
    pub validity: TimeDelta,
}

impl InvitationPolicy {
    /// The product default: links expire after 7 days.
    pub const DEFAULT_VALIDITY_DAYS: i64 = 7;

    /// When a link released at `sent_at` expires (saturating at the latest
    /// representable time).
    pub fn expires_at(&self, sent_at: DateTime<Utc>) -> DateTime<Utc> {
        sent_at
            .checked_add_signed(self.validity)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

impl Default for InvitationPolicy {
    fn default() -> Self {
        InvitationPolicy {
            validity: TimeDelta::days(Self::DEFAULT_VALIDITY_DAYS),
        }
    }
}

/// One invitation of a user, with its timestamps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Invitation {
    /// The user's invitation number: 1 for the first, +1 for each new one.
    pub number: u32,
    /// What queued it.
    pub trigger: InvitationTrigger,
    /// Its state.
    pub state: InvitationState,
    /// When it was queued.
    pub queued_at: DateTime<Utc>,
    /// When an admin check-in released it.
    pub sent_at: Option<DateTime<Utc>>,
    /// When its link stops working (set on release).
    pub expires_at: Option<DateTime<Utc>>,
    /// When the user activated with it.
    pub accepted_at: Option<DateTime<Utc>>,
    /// When it was cancelled.
    pub cancelled_at: Option<DateTime<Utc>>,
    /// When its delivery failed for good.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_at: Option<DateTime<Utc>>,
    /// Why its delivery failed (never contains the link).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

impl Invitation {
    fn queued(number: u32, trigger: InvitationTrigger, now: DateTime<Utc>) -> Self {
        Invitation {
            number,
            trigger,
            state: InvitationState::Queued,
            queued_at: now,
            sent_at: None,
            expires_at: None,
            accepted_at: None,
            cancelled_at: None,
            failed_at: None,
            failure: None,
        }
    }

    /// Whether it was sent, not used, and its link has expired at `now`
    /// (the expiry instant itself counts as expired).
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.state == InvitationState::Sent && self.expires_at.is_some_and(|e| now >= e)
    }

    /// The state the admin API lists at `now`.
    pub fn reported_state(&self, now: DateTime<Utc>) -> ReportedInvitationState {
        match self.state {
            InvitationState::Queued => ReportedInvitationState::Queued,
            InvitationState::Sent if self.is_expired(now) => ReportedInvitationState::Expired,
            InvitationState::Sent => ReportedInvitationState::Sent,
            InvitationState::Accepted => ReportedInvitationState::Accepted,
            InvitationState::Cancelled => ReportedInvitationState::Cancelled,
            InvitationState::Failed => ReportedInvitationState::Failed,
        }
    }
}

/// A request to change a user's lifecycle, for [`UserLifecycle::apply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Create the user. Only [`UserLifecycle::provision`] does that; applied
    /// to an existing user it is always rejected (the user already exists).
    Provision {
        /// The user's effective settings.
        settings: EffectiveUserSettings,
        /// The SCIM `active` flag the directory sent.
        active: bool,
    },
    /// An administrator invites the user ([`UserLifecycle::invite`]).
    Invite,
    /// An admin check-in releases the user's queued invitation
    /// ([`UserLifecycle::release_invitation`]).
    ReleaseInvitation {
        /// How long the released link stays valid.
        policy: InvitationPolicy,
    },
    /// The user activates with their invitation ([`UserLifecycle::activate`]).
    Activate {
        /// The mobile device enrolled during activation, if any.
        mobile_device: Option<MobileDevice>,
        /// Whether mobile authentication is in effect for the user.
        requires_mobile_auth: bool,
    },
    /// An active user enrols a (new) mobile device
    /// ([`UserLifecycle::enroll_mobile_device`]).
    EnrollMobileDevice {
        /// The device.
        device: MobileDevice,
    },
    /// The directory sets `active: false` ([`UserLifecycle::deactivate`]).
    Deactivate,
    /// The directory sets `active: true` ([`UserLifecycle::reactivate`]).
    Reactivate,
    /// The directory deletes the user ([`UserLifecycle::delete`]).
    Delete,
}

impl Command {
    /// The command's kind, without its inputs.
    pub fn kind(&self) -> CommandKind {
        match self {
            Command::Provision { .. } => CommandKind::Provision,
            Command::Invite => CommandKind::Invite,
            Command::ReleaseInvitation { .. } => CommandKind::ReleaseInvitation,
            Command::Activate { .. } => CommandKind::Activate,
            Command::EnrollMobileDevice { .. } => CommandKind::EnrollMobileDevice,
            Command::Deactivate => CommandKind::Deactivate,
            Command::Reactivate => CommandKind::Reactivate,
            Command::Delete => CommandKind::Delete,
        }
    }
}

/// The kind of a [`Command`]. Displays as a verb phrase ("activate",
/// "release the invitation of", ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CommandKind {
    /// [`Command::Provision`].
    Provision,
    /// [`Command::Invite`].
    Invite,
    /// [`Command::ReleaseInvitation`].
    ReleaseInvitation,
    /// [`Command::Activate`].
    Activate,
    /// [`Command::EnrollMobileDevice`].
    EnrollMobileDevice,
    /// [`Command::Deactivate`].
    Deactivate,
    /// [`Command::Reactivate`].
    Reactivate,
    /// [`Command::Delete`].
    Delete,
}

impl CommandKind {
    /// Every command kind.
    pub const ALL: [CommandKind; 8] = [
        CommandKind::Provision,
        CommandKind::Invite,
        CommandKind::ReleaseInvitation,
        CommandKind::Activate,
        CommandKind::EnrollMobileDevice,
        CommandKind::Deactivate,
        CommandKind::Reactivate,
        CommandKind::Delete,
    ];
}

impl fmt::Display for CommandKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CommandKind::Provision => "provision",
            CommandKind::Invite => "invite",
            CommandKind::ReleaseInvitation => "release the invitation of",
            CommandKind::Activate => "activate",
            CommandKind::EnrollMobileDevice => "enrol a mobile device for",
            CommandKind::Deactivate => "deactivate",
            CommandKind::Reactivate => "reactivate",
            CommandKind::Delete => "delete",
        })
    }
}

/// Why a transition was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Rejection {
    /// Provisioning applies to new users only.
    #[error("the user already exists; provisioning only creates new users")]
    AlreadyProvisioned,
    /// Deleted users never change again.
    #[error("the user has been deleted and can no longer change")]
    UserDeleted,
    /// Suspended users must be reactivated by the directory first.
    #[error("the user is suspended by the directory; it must set them active again first")]
    UserSuspended,
    /// Deactivating a user who is already suspended.
    #[error("the user is already suspended")]
    AlreadySuspended,
    /// Reactivating a user who is not suspended.
    #[error("only a suspended user can be reactivated")]
    NotSuspended,
    /// The user already activated their account.
    #[error("the user has already activated their account")]
    AlreadyActive,
    /// The user has a sent invitation whose link still works.
    #[error("the user already has an invitation whose link has not expired")]
    AlreadyInvited,
    /// An invitation is already waiting for the next admin check-in.
    #[error(
        "an invitation is already queued; it goes out when an administrator next opens the mobile app"
    )]
    InvitationAlreadyQueued,
    /// There is no queued invitation to release.
    #[error("no invitation is queued for this user")]
    NoQueuedInvitation,
    /// Activation without any invitation.
    #[error("the user has not been invited; an administrator must invite them first")]
    NotInvited,
    /// Activation while the invitation still waits for an admin check-in.
    #[error(
        "the user's invitation is still queued; it goes out when an administrator next opens the mobile app"
    )]
    InvitationNotReleased,
    /// Activation with an expired link.
    #[error(
        "the invitation link expired at {expired_at}; an administrator must invite the user again"
    )]
    InvitationExpired {
        /// When the link expired.
        expired_at: DateTime<Utc>,
    },
    /// Mobile authentication is in effect but no device was enrolled.
    #[error(
        "mobile authentication is required for this user, so activation must enrol a mobile device"
    )]
    MobileDeviceRequired,
    /// Device enrolment outside activation needs an active user.
    #[error("only an active user can enrol a mobile device (activation enrols the first one)")]
    NotActive,
}

/// A refused transition: the user's status, what was attempted, and why not.
///
/// Displays as e.g. "cannot activate a user who is Suspended: the user is
/// suspended by the directory; it must set them active again first".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {command} a user who is {from}: {reason}")]
pub struct TransitionError {
    /// The user's status when the command arrived.
    pub from: Status,
    /// What was attempted.
    pub command: CommandKind,
    /// Why it was refused.
    pub reason: Rejection,
}

/// A stored lifecycle that breaks the state machine's invariants
/// (see [`UserLifecycle::from_record`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("inconsistent user lifecycle record ({status}): {problem}")]
pub struct RecordError {
    /// The record's status.
    pub status: Status,
    /// What is wrong with it.
    pub problem: &'static str,
}

/// Everything a user's lifecycle consists of, as plain data the store can
/// persist. Turn it back into a [`UserLifecycle`] with
/// [`UserLifecycle::from_record`], which checks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LifecycleRecord {
    /// The product status.
    pub status: Status,
    /// While Suspended: the status reactivation restores.
    pub restore_to: Option<Status>,
    /// The user's latest invitation.
    pub invitation: Option<Invitation>,
    /// While Suspended: an invitation is queued again on reactivation.
    pub invitation_held: bool,
    /// The enrolled mobile device.
    pub mobile_device: Option<MobileDevice>,
}

/// The lifecycle of one SCIM-provisioned user.
///
/// Its fields are private: the only ways to obtain one are
/// [`provision`](Self::provision) and [`from_record`](Self::from_record)
/// (which checks the invariants), and the only way to change one is a
/// transition. It serialises as its [`LifecycleRecord`]; deserialising checks
/// the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "LifecycleRecord", into = "LifecycleRecord")]
pub struct UserLifecycle {
    status: Status,
    restore_to: Option<Status>,
    invitation: Option<Invitation>,
    invitation_held: bool,
    mobile_device: Option<MobileDevice>,
}

impl UserLifecycle {
    /// A user created via SCIM.
    ///
    /// - `active: true`: the user is Staged; if automatic invitation is in
    ///   effect for them, invitation #1 is queued.
    /// - `active: false` (RFC clients may create disabled users): the user is
    ///   Suspended and will be Staged on reactivation; no invitation is
    ///   queued, but if automatic invitation is in effect it is *held* and
    ///   queued when the directory reactivates them.
    pub fn provision(
        settings: &EffectiveUserSettings,
        active: bool,
        now: DateTime<Utc>,
    ) -> (UserLifecycle, Vec<Event>) {
        let automatic = settings.automatic_invitation.value;
        let status = if active {
            Status::Staged
        } else {
            Status::Suspended
        };
        let mut events = vec![Event::UserProvisioned {
            status,
            automatic_invitation: settings.automatic_invitation,
            at: now,
        }];
        let mut lifecycle = UserLifecycle {
            status,
            restore_to: None,
            invitation: None,
            invitation_held: false,
            mobile_device: None,
        };
        if active {
            if automatic {
                events.push(lifecycle.queue_new(InvitationTrigger::Automatic, now));
            }
        } else {
            lifecycle.restore_to = Some(Status::Staged);
            events.push(Event::UserSuspended {
                previous: Status::Staged,
                at: now,
            });
            if automatic {
                lifecycle.invitation_held = true;
                events.push(Event::InvitationHeld { at: now });
            }
        }
        (lifecycle, events)
    }

    /// Rebuilds a lifecycle from stored data, refusing records that no
    /// sequence of transitions could have produced.
    pub fn from_record(record: LifecycleRecord) -> Result<UserLifecycle, RecordError> {
        check_record(&record)?;
        Ok(UserLifecycle {
            status: record.status,
            restore_to: record.restore_to,
            invitation: record.invitation,
            invitation_held: record.invitation_held,
            mobile_device: record.mobile_device,
        })
    }

    /// The lifecycle as plain data for the store.
    pub fn to_record(&self) -> LifecycleRecord {
        LifecycleRecord {
            status: self.status,
            restore_to: self.restore_to,
            invitation: self.invitation.clone(),
            invitation_held: self.invitation_held,
            mobile_device: self.mobile_device.clone(),
        }
    }

    /// The product status.
    pub fn status(&self) -> Status {
        self.status
    }

    /// While Suspended: the status reactivation restores.
    pub fn restore_to(&self) -> Option<Status> {
        self.restore_to
    }

    /// The user's latest invitation, if any.
    pub fn invitation(&self) -> Option<&Invitation> {
        self.invitation.as_ref()
    }

    /// Whether an invitation is held while suspended, to be queued again on
    /// reactivation.
    pub fn invitation_held(&self) -> bool {
        self.invitation_held
    }

    /// Whether an invitation is queued, waiting for an admin check-in.
    pub fn has_queued_invitation(&self) -> bool {
        self.invitation
            .as_ref()
            .is_some_and(|i| i.state == InvitationState::Queued)
    }

    /// The enrolled mobile device, if any.
    pub fn mobile_device(&self) -> Option<&MobileDevice> {
        self.mobile_device.as_ref()
    }

    /// Whether a mobile device is enrolled.
    pub fn mobile_device_enrolled(&self) -> bool {
        self.mobile_device.is_some()
    }

    /// The SCIM `active` flag: `false` exactly when the user is Suspended.
    /// (A Deleted user is not visible over SCIM at all.)
    pub fn scim_active(&self) -> bool {
        self.status != Status::Suspended
    }

    /// What group-access decisions need to know about this user.
    pub fn access_facts(&self) -> UserAccessFacts {
        UserAccessFacts {
            status: self.status,
            mobile_device_enrolled: self.mobile_device_enrolled(),
        }
    }

    /// Applies a command: the single entry point over all transitions.
    pub fn apply(
        &mut self,
        command: Command,
        now: DateTime<Utc>,
    ) -> Result<Vec<Event>, TransitionError> {
        match command {
            Command::Provision { .. } => {
                self.ensure_not_deleted(CommandKind::Provision)?;
                Err(self.reject(CommandKind::Provision, Rejection::AlreadyProvisioned))
            }
            Command::Invite => self.invite(now),
            Command::ReleaseInvitation { policy } => self.release_invitation(&policy, now),
            Command::Activate {
                mobile_device,
                requires_mobile_auth,
            } => self.activate(mobile_device, requires_mobile_auth, now),
            Command::EnrollMobileDevice { device } => self.enroll_mobile_device(device, now),
            Command::Deactivate => self.deactivate(now),
            Command::Reactivate => self.reactivate(now),
            Command::Delete => self.delete(now),
        }
    }

    /// An administrator invites the user explicitly. The invitation is
    /// queued and goes out at the next admin check-in.
    ///
    /// Legal for a Staged user without a queued invitation, and for an
    /// Invited user whose link has expired (a new invitation replaces it;
    /// the user stays Invited). Refused for everyone else.
    pub fn invite(&mut self, now: DateTime<Utc>) -> Result<Vec<Event>, TransitionError> {
        let kind = CommandKind::Invite;
        self.ensure_not_deleted(kind)?;
        match self.status {
            Status::Suspended => return Err(self.reject(kind, Rejection::UserSuspended)),
            Status::Active => return Err(self.reject(kind, Rejection::AlreadyActive)),
            Status::Staged | Status::Invited | Status::Deleted => {}
        }
        match &self.invitation {
            Some(i) if i.state == InvitationState::Queued => {
                return Err(self.reject(kind, Rejection::InvitationAlreadyQueued));
            }
            Some(i) if i.state == InvitationState::Sent && !i.is_expired(now) => {
                return Err(self.reject(kind, Rejection::AlreadyInvited));
            }
            _ => {}
        }
        Ok(vec![self.queue_new(InvitationTrigger::Explicit, now)])
    }

    /// An admin check-in releases the user's queued invitation: the
    /// activation email goes out (an outbox event) and the user is Invited.
    /// See also [`admin_check_in`], which does it for every user.
    pub fn release_invitation(
        &mut self,
        policy: &InvitationPolicy,
        now: DateTime<Utc>,
    ) -> Result<Vec<Event>, TransitionError> {
        let kind = CommandKind::ReleaseInvitation;
        self.ensure_not_deleted(kind)?;
        if self.status == Status::Suspended {
            return Err(self.reject(kind, Rejection::UserSuspended));
        }
        let expires_at = policy.expires_at(now);
        let Some(invitation) = self
            .invitation
            .as_mut()
            .filter(|i| i.state == InvitationState::Queued)
        else {
            return Err(self.reject(kind, Rejection::NoQueuedInvitation));
        };
        invitation.state = InvitationState::Sent;
        invitation.sent_at = Some(now);
        invitation.expires_at = Some(expires_at);
        let number = invitation.number;
        self.status = Status::Invited;
        Ok(vec![Event::InvitationReleased {
            invitation: number,
            expires_at,
            at: now,
        }])
    }

    /// The user activates with their invitation link and becomes Active.
    ///
    /// Needs a sent, unexpired invitation. When mobile authentication is in
    /// effect for the user (`requires_mobile_auth`, normally
    /// [`EffectiveUserSettings::require_mobile_auth`]`.value`), activation must
    /// enrol a mobile device. A device given when not required is enrolled too.
    pub fn activate(
        &mut self,
        mobile_device: Option<MobileDevice>,
        requires_mobile_auth: bool,
        now: DateTime<Utc>,
    ) -> Result<Vec<Event>, TransitionError> {
        let kind = CommandKind::Activate;
        self.ensure_not_deleted(kind)?;
        match self.status {
            Status::Suspended => return Err(self.reject(kind, Rejection::UserSuspended)),
            Status::Active => return Err(self.reject(kind, Rejection::AlreadyActive)),
            Status::Staged | Status::Invited | Status::Deleted => {}
        }
        let number = match &self.invitation {
            None => return Err(self.reject(kind, Rejection::NotInvited)),
            Some(i) => match i.state {
                InvitationState::Queued => {
                    return Err(self.reject(kind, Rejection::InvitationNotReleased));
                }
                InvitationState::Accepted
                | InvitationState::Cancelled
                | InvitationState::Failed => {
                    return Err(self.reject(kind, Rejection::NotInvited));
                }
                InvitationState::Sent => {
                    if let Some(expired_at) = i.expires_at.filter(|_| i.is_expired(now)) {
                        return Err(self.reject(kind, Rejection::InvitationExpired { expired_at }));
                    }
                    i.number
                }
            },
        };
        if requires_mobile_auth && mobile_device.is_none() {
            return Err(self.reject(kind, Rejection::MobileDeviceRequired));
        }
        let mut events = vec![Event::InvitationAccepted {
            invitation: number,
            at: now,
        }];
        if let Some(invitation) = self.invitation.as_mut() {
            invitation.state = InvitationState::Accepted;
            invitation.accepted_at = Some(now);
        }
        if let Some(device) = mobile_device {
            events.push(Event::MobileDeviceEnrolled {
                device: device.clone(),
                replaced: self.mobile_device.is_some(),
                at: now,
            });
            self.mobile_device = Some(device);
        }
        self.status = Status::Active;
        events.push(Event::UserActivated {
            mobile_device_enrolled: self.mobile_device.is_some(),
            at: now,
        });
        Ok(events)
    }

    /// An Active user enrols a mobile device (or replaces theirs).
    pub fn enroll_mobile_device(
        &mut self,
        device: MobileDevice,
        now: DateTime<Utc>,
    ) -> Result<Vec<Event>, TransitionError> {
        let kind = CommandKind::EnrollMobileDevice;
        self.ensure_not_deleted(kind)?;
        match self.status {
            Status::Active => {}
            Status::Suspended => return Err(self.reject(kind, Rejection::UserSuspended)),
            Status::Staged | Status::Invited | Status::Deleted => {
                return Err(self.reject(kind, Rejection::NotActive));
            }
        }
        let replaced = self.mobile_device.is_some();
        self.mobile_device = Some(device.clone());
        Ok(vec![Event::MobileDeviceEnrolled {
            device,
            replaced,
            at: now,
        }])
    }

    /// The directory sets `active: false`: the user is Suspended at once and
    /// their status is remembered. A queued invitation is cancelled and held,
    /// to be queued again on reactivation; a sent one stays as it is (the
    /// link cannot be used while suspended).
    pub fn deactivate(&mut self, now: DateTime<Utc>) -> Result<Vec<Event>, TransitionError> {
        let kind = CommandKind::Deactivate;
        self.ensure_not_deleted(kind)?;
        if self.status == Status::Suspended {
            return Err(self.reject(kind, Rejection::AlreadySuspended));
        }
        let previous = self.status;
        let mut events = Vec::new();
        if let Some(number) = self.cancel_if(now, |s| s == InvitationState::Queued) {
            events.push(Event::InvitationCancelled {
                invitation: number,
                reason: CancelReason::UserSuspended,
                at: now,
            });
            self.invitation_held = true;
            events.push(Event::InvitationHeld { at: now });
        }
        self.restore_to = Some(previous);
        self.status = Status::Suspended;
        events.insert(0, Event::UserSuspended { previous, at: now });
        Ok(events)
    }

    /// The directory sets `active: true`: the user gets back the status they
    /// had before the suspension. A held invitation (queued but never sent
    /// when the user was suspended, or held since a disabled creation) is
    /// queued again; nobody who was already sent an invitation gets a second
    /// one.
    pub fn reactivate(&mut self, now: DateTime<Utc>) -> Result<Vec<Event>, TransitionError> {
        let kind = CommandKind::Reactivate;
        self.ensure_not_deleted(kind)?;
        let Some(restored) = self.restore_to.filter(|_| self.status == Status::Suspended) else {
            return Err(self.reject(kind, Rejection::NotSuspended));
        };
        self.status = restored;
        self.restore_to = None;
        let mut events = vec![Event::UserReactivated { restored, at: now }];
        if self.invitation_held {
            self.invitation_held = false;
            events.push(self.queue_new(InvitationTrigger::Reactivation, now));
        }
        Ok(events)
    }

    /// The email of the released invitation `number` could not be delivered
    /// (`reason`: no address, refused by the relay, or delivery gave up):
    /// it is Failed, its link is dead, and the user keeps their status, so an
    /// administrator can invite them again at once
    /// ([`invite`](Self::invite) accepts a user whose invitation failed).
    /// Returns no events when invitation `number` is not a released, unused
    /// one any more (a newer invitation replaced it, or it was used or
    /// cancelled meanwhile): nothing to record.
    pub fn fail_invitation(&mut self, number: u32, reason: &str, now: DateTime<Utc>) -> Vec<Event> {
        let Some(invitation) = self
            .invitation
            .as_mut()
            .filter(|i| i.number == number && i.state == InvitationState::Sent)
        else {
            return Vec::new();
        };
        invitation.state = InvitationState::Failed;
        invitation.failed_at = Some(now);
        invitation.failure = Some(reason.to_owned());
        vec![Event::InvitationFailed {
            invitation: number,
            reason: reason.to_owned(),
            at: now,
        }]
    }

    /// Automatic invitation was turned off for the user (an override): an
    /// invitation that was queued automatically and not released yet is
    /// cancelled. An administrator's explicit invitation (and one queued
    /// again on reactivation) stays. Returns no events when there is
    /// nothing to cancel.
    pub fn automatic_invitation_turned_off(&mut self, now: DateTime<Utc>) -> Vec<Event> {
        if self.status == Status::Deleted {
            return Vec::new();
        }
        let automatic_and_queued = self.invitation.as_ref().is_some_and(|i| {
            i.state == InvitationState::Queued && i.trigger == InvitationTrigger::Automatic
        });
        if !automatic_and_queued {
            return Vec::new();
        }
        self.cancel_if(now, |s| s == InvitationState::Queued)
            .map(|number| Event::InvitationCancelled {
                invitation: number,
                reason: CancelReason::AutomaticInvitationOff,
                at: now,
            })
            .into_iter()
            .collect()
    }

    /// The directory deletes the user: Deleted, for good. A queued or sent
    /// (unused) invitation is cancelled; a held one is dropped.
    pub fn delete(&mut self, now: DateTime<Utc>) -> Result<Vec<Event>, TransitionError> {
        let kind = CommandKind::Delete;
        self.ensure_not_deleted(kind)?;
        let previous = self.status;
        let mut events = vec![];
        if let Some(number) = self.cancel_if(now, |s| {
            matches!(s, InvitationState::Queued | InvitationState::Sent)
        }) {
            events.push(Event::InvitationCancelled {
                invitation: number,
                reason: CancelReason::UserDeleted,
                at: now,
            });
        }
        self.invitation_held = false;
        self.restore_to = None;
        self.status = Status::Deleted;
        events.push(Event::UserDeleted { previous, at: now });
        Ok(events)
    }

    fn ensure_not_deleted(&self, kind: CommandKind) -> Result<(), TransitionError> {
        if self.status == Status::Deleted {
            Err(self.reject(kind, Rejection::UserDeleted))
        } else {
            Ok(())
        }
    }

    fn reject(&self, command: CommandKind, reason: Rejection) -> TransitionError {
        TransitionError {
            from: self.status,
            command,
            reason,
        }
    }

    fn queue_new(&mut self, trigger: InvitationTrigger, now: DateTime<Utc>) -> Event {
        let number = self
            .invitation
            .as_ref()
            .map_or(1, |i| i.number.saturating_add(1));
        self.invitation = Some(Invitation::queued(number, trigger, now));
        Event::InvitationQueued {
            invitation: number,
            trigger,
            at: now,
        }
    }

    fn cancel_if(
        &mut self,
        now: DateTime<Utc>,
        which: impl Fn(InvitationState) -> bool,
    ) -> Option<u32> {
        let invitation = self.invitation.as_mut().filter(|i| which(i.state))?;
        invitation.state = InvitationState::Cancelled;
        invitation.cancelled_at = Some(now);
        Some(invitation.number)
    }
}

impl TryFrom<LifecycleRecord> for UserLifecycle {
    type Error = RecordError;
    fn try_from(record: LifecycleRecord) -> Result<Self, Self::Error> {
        UserLifecycle::from_record(record)
    }
}

impl From<UserLifecycle> for LifecycleRecord {
    fn from(lifecycle: UserLifecycle) -> Self {
        lifecycle.to_record()
    }
}

fn check_record(r: &LifecycleRecord) -> Result<(), RecordError> {
    let fail = |problem| {
        Err(RecordError {
            status: r.status,
            problem,
        })
    };
    let suspended = r.status == Status::Suspended;
    let deleted = r.status == Status::Deleted;
    match (suspended, r.restore_to) {
        (true, None) => return fail("a suspended user must remember the status to restore"),
        (true, Some(Status::Suspended | Status::Deleted)) => {
            return fail("a suspended user can only be restored to Staged, Invited or Active");
        }
        (false, Some(_)) => return fail("only a suspended user remembers a status to restore"),
        _ => {}
    }
    if r.invitation_held && !suspended {
        return fail("only a suspended user can have an invitation held");
    }
    if let Some(i) = &r.invitation {
        if i.number == 0 {
            return fail("invitation numbers start at 1");
        }
        let timestamps_ok = match i.state {
            InvitationState::Queued => i.sent_at.is_none() && i.accepted_at.is_none(),
            InvitationState::Sent => {
                i.sent_at.is_some() && i.expires_at.is_some() && i.accepted_at.is_none()
            }
            InvitationState::Accepted => i.sent_at.is_some() && i.accepted_at.is_some(),
            InvitationState::Cancelled => i.cancelled_at.is_some(),
            InvitationState::Failed => {
                i.sent_at.is_some() && i.failed_at.is_some() && i.accepted_at.is_none()
            }
        };
        if !timestamps_ok {
            return fail("the invitation's timestamps do not match its state");
        }
        if (suspended || deleted) && i.state == InvitationState::Queued {
            return fail("a suspended or deleted user cannot have a queued invitation");
        }
        if !(suspended || deleted)
            && i.state == InvitationState::Cancelled
            && !(r.status == Status::Staged && i.trigger == InvitationTrigger::Automatic)
        {
            // Only turning automatic invitation off leaves a cancelled
            // invitation on a user who is not suspended or deleted.
            return fail("a cancelled invitation is replaced when the user is reactivated");
        }
    }
    if deleted {
        return Ok(());
    }
    // The status the user is in, or would be in without the suspension.
    let base = r.restore_to.unwrap_or(r.status);
    let state = r.invitation.as_ref().map(|i| (i.state, i.number));
    let consistent = match base {
        Status::Staged => matches!(
            state,
            None | Some((InvitationState::Queued | InvitationState::Cancelled, _))
        ),
        Status::Invited => match state {
            Some((InvitationState::Sent | InvitationState::Failed, _)) => true,
            Some((InvitationState::Queued | InvitationState::Cancelled, n)) => n >= 2,
            _ => false,
        },
        Status::Active => matches!(state, Some((InvitationState::Accepted, _))),
        Status::Suspended | Status::Deleted => false,
    };
    if !consistent {
        return fail("the invitation does not match the user's status");
    }
    if r.mobile_device.is_some() && base != Status::Active {
        return fail("only a user who activated can have a mobile device enrolled");
    }
    Ok(())
}

/// The outcome of an admin check-in for a set of users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckInOutcome<K> {
    /// The users whose invitation was released, with the events to store.
    pub released: Vec<(K, Vec<Event>)>,
}

impl<K> CheckInOutcome<K> {
    /// How many invitations went out (the admin API's `{released}`).
    pub fn released_count(&self) -> usize {
        self.released.len()
    }
}

/// An administrator opened the mobile app: every queued invitation among
/// `users` is released (see [`UserLifecycle::release_invitation`]); users
/// without a queued invitation are left alone. `K` is whatever identifies a
/// user to the caller.
pub fn admin_check_in<'a, K>(
    users: impl IntoIterator<Item = (K, &'a mut UserLifecycle)>,
    policy: &InvitationPolicy,
    now: DateTime<Utc>,
) -> CheckInOutcome<K> {
    let released = users
        .into_iter()
        .filter(|(_, user)| user.has_queued_invitation())
        .filter_map(|(key, user)| {
            user.release_invitation(policy, now)
                .ok()
                .map(|events| (key, events))
        })
        .collect();
    CheckInOutcome { released }
}

//! What the lifecycle transitions emit.
//!
//! The store writes every event of a transition to the audit log, and the
//! ones for which [`Event::is_outbox`] is true to the outbox, in the same
//! transaction as the new lifecycle state. Events serialise as JSON objects
//! tagged by `"type"` (`{"type": "invitationReleased", "invitation": 1, ...}`).

use crate::lifecycle::{InvitationTrigger, MobileDevice, Status};
use crate::settings::Effective;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Why an invitation was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CancelReason {
    /// The directory deactivated the user (`active: false`) while the
    /// invitation was still queued.
    UserSuspended,
    /// The user was deleted.
    UserDeleted,
    /// Automatic invitation was turned off for the user (an override) while
    /// the automatically queued invitation was still waiting.
    AutomaticInvitationOff,
}

/// Something that happened to a user's lifecycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Event {
    /// A user was created via SCIM, in `status` (Staged, or Suspended when the
    /// directory created them with `active: false`).
    UserProvisioned {
        /// The status the user starts in.
        status: Status,
        /// The automatic-invitation setting in effect at creation, with its source.
        automatic_invitation: Effective<bool>,
        /// When.
        at: DateTime<Utc>,
    },
    /// An invitation was queued; it goes out at the next admin check-in.
    InvitationQueued {
        /// The user's invitation number (1 for the first).
        invitation: u32,
        /// What queued it.
        trigger: InvitationTrigger,
        /// When.
        at: DateTime<Utc>,
    },
    /// An invitation is held back while the user is suspended and will be
    /// queued again when the directory reactivates them.
    InvitationHeld {
        /// When.
        at: DateTime<Utc>,
    },
    /// An admin check-in released the queued invitation: the activation
    /// email must be sent (outbox) and the user is now Invited.
    InvitationReleased {
        /// The invitation number.
        invitation: u32,
        /// When the activation link stops working.
        expires_at: DateTime<Utc>,
        /// When.
        at: DateTime<Utc>,
    },
    /// A queued or sent invitation was cancelled; its link no longer works.
    InvitationCancelled {
        /// The invitation number.
        invitation: u32,
        /// Why.
        reason: CancelReason,
        /// When.
        at: DateTime<Utc>,
    },
    /// A released invitation's email could not be delivered; the link is
    /// dead and the user may be invited again.
    InvitationFailed {
        /// The invitation number.
        invitation: u32,
        /// Why (no address, refused by the relay, delivery gave up).
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// The user used the activation link.
    InvitationAccepted {
        /// The invitation number.
        invitation: u32,
        /// When.
        at: DateTime<Utc>,
    },
    /// A mobile device was enrolled for the user.
    MobileDeviceEnrolled {
        /// The device.
        device: MobileDevice,
        /// Whether it replaced a previously enrolled device.
        replaced: bool,
        /// When.
        at: DateTime<Utc>,
    },
    /// The user activated their account and is now Active.
    UserActivated {
        /// Whether a mobile device is enrolled.
        mobile_device_enrolled: bool,
        /// When.
        at: DateTime<Utc>,
    },
    /// The directory deactivated the user (`active: false`); they are Suspended.
    UserSuspended {
        /// The status they had, restored on reactivation.
        previous: Status,
        /// When.
        at: DateTime<Utc>,
    },
    /// The directory reactivated the user (`active: true`).
    UserReactivated {
        /// The status they are back in.
        restored: Status,
        /// When.
        at: DateTime<Utc>,
    },
    /// The user was deleted; they never change again.
    UserDeleted {
        /// The status they had.
        previous: Status,
        /// When.
        at: DateTime<Utc>,
    },
}

impl Event {
    /// The event's name as it serialises (`"invitationReleased"`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Event::UserProvisioned { .. } => "userProvisioned",
            Event::InvitationQueued { .. } => "invitationQueued",
            Event::InvitationHeld { .. } => "invitationHeld",
            Event::InvitationReleased { .. } => "invitationReleased",
            Event::InvitationCancelled { .. } => "invitationCancelled",
            Event::InvitationFailed { .. } => "invitationFailed",
            Event::InvitationAccepted { .. } => "invitationAccepted",
            Event::MobileDeviceEnrolled { .. } => "mobileDeviceEnrolled",
            Event::UserActivated { .. } => "userActivated",
            Event::UserSuspended { .. } => "userSuspended",
            Event::UserReactivated { .. } => "userReactivated",
            Event::UserDeleted { .. } => "userDeleted",
        }
    }

    /// When it happened.
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Event::UserProvisioned { at, .. }
            | Event::InvitationQueued { at, .. }
            | Event::InvitationHeld { at }
            | Event::InvitationReleased { at, .. }
            | Event::InvitationCancelled { at, .. }
            | Event::InvitationFailed { at, .. }
            | Event::InvitationAccepted { at, .. }
            | Event::MobileDeviceEnrolled { at, .. }
            | Event::UserActivated { at, .. }
            | Event::UserSuspended { at, .. }
            | Event::UserReactivated { at, .. }
            | Event::UserDeleted { at, .. } => *at,
        }
    }

    /// Whether the event asks for work outside the transaction (the
    /// activation email of a released invitation): the store writes it to
    /// the outbox as well as to the audit log.
    pub fn is_outbox(&self) -> bool {
        matches!(self, Event::InvitationReleased { .. })
    }
}

impl fmt::Display for Event {
    /// One line a support person can read in the audit log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::UserProvisioned {
                status,
                automatic_invitation,
                ..
            } => write!(
                f,
                "user provisioned as {status} (automatic invitation {} by {})",
                on_off(automatic_invitation.value),
                automatic_invitation.source
            ),
            Event::InvitationQueued {
                invitation,
                trigger,
                ..
            } => write!(
                f,
                "invitation #{invitation} queued ({trigger}); it goes out at the next admin check-in"
            ),
            Event::InvitationHeld { .. } => f.write_str(
                "invitation held while the user is suspended; it is queued again on reactivation",
            ),
            Event::InvitationReleased {
                invitation,
                expires_at,
                ..
            } => write!(
                f,
                "invitation #{invitation} released by an admin check-in; the link expires at {expires_at}"
            ),
            Event::InvitationCancelled {
                invitation, reason, ..
            } => write!(
                f,
                "invitation #{invitation} cancelled because {}",
                match reason {
                    CancelReason::UserSuspended => "the user was suspended",
                    CancelReason::UserDeleted => "the user was deleted",
                    CancelReason::AutomaticInvitationOff =>
                        "automatic invitation was turned off for the user",
                }
            ),
            Event::InvitationFailed {
                invitation, reason, ..
            } => write!(
                f,
                "invitation #{invitation} failed: {reason}; invite the user again once that is fixed"
            ),
            Event::InvitationAccepted { invitation, .. } => {
                write!(f, "invitation #{invitation} accepted")
            }
            Event::MobileDeviceEnrolled {
                device, replaced, ..
            } => write!(
                f,
                "mobile device \"{}\" enrolled{}",
                device.name,
                if *replaced {
                    " (replacing the previous one)"
                } else {
                    ""
                }
            ),
            Event::UserActivated {
                mobile_device_enrolled,
                ..
            } => write!(
                f,
                "user activated ({})",
                if *mobile_device_enrolled {
                    "with a mobile device"
                } else {
                    "without a mobile device"
                }
            ),
            Event::UserSuspended { previous, .. } => {
                write!(f, "user suspended by the directory (was {previous})")
            }
            Event::UserReactivated { restored, .. } => {
                write!(f, "user reactivated by the directory, back to {restored}")
            }
            Event::UserDeleted { previous, .. } => write!(f, "user deleted (was {previous})"),
        }
    }
}

fn on_off(value: bool) -> &'static str {
    if value { "on" } else { "off" }
}

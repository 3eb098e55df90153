//! Can this user see this group's data, and can they store data in it?
//!
//! The rule (`docs/provisioning-core.md`, "Access decisions"): the user **sees** the group's data when
//! they are a direct member, are neither suspended nor deleted, and either the
//! group's effective "require mobile authentication" is off or they have a
//! mobile device enrolled. **Storing** data additionally needs the group's
//! "members can store data".
//!
//! [`decide_group_access`] answers both and lists every fact it looked at as
//! an [`AccessReason`], in the order above, so a support person can read why.

use crate::lifecycle::Status;
use crate::settings::{EffectiveGroupSettings, Source};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

/// What an access decision needs to know about a user
/// (see [`UserLifecycle::access_facts`](crate::UserLifecycle::access_facts)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserAccessFacts {
    /// The user's product status.
    pub status: Status,
    /// Whether the user has a mobile device enrolled.
    pub mobile_device_enrolled: bool,
}

/// Whether the user is a direct member of the group. (Nested groups are not
/// supported, so direct membership is the only kind.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Membership {
    /// The user is a direct member.
    DirectMember,
    /// The user is not a member.
    NotMember,
}

impl From<bool> for Membership {
    fn from(is_member: bool) -> Self {
        if is_member {
            Membership::DirectMember
        } else {
            Membership::NotMember
        }
    }
}

/// One fact behind an access decision.
///
/// Serialises as `{"code": "mobileDeviceMissing", "allows": false,
/// "message": "..."}`; the message is the [`Display`](fmt::Display) text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccessReason {
    /// The user is a direct member of the group.
    DirectMember,
    /// The user is not a member of the group.
    NotMember,
    /// The user's status does not block access (Staged, Invited or Active).
    StatusAllows(Status),
    /// The user is suspended.
    UserSuspended,
    /// The user is deleted.
    UserDeleted,
    /// The group does not require mobile authentication.
    MobileNotRequired(Source),
    /// The group requires mobile authentication and the user has a device.
    MobileDeviceEnrolled(Source),
    /// The group requires mobile authentication and the user has no device.
    MobileDeviceMissing(Source),
    /// The group lets members store data.
    StoringAllowed,
    /// The group does not let members store data.
    StoringDisabled,
}

impl AccessReason {
    /// A stable camelCase code for the reason.
    pub fn code(&self) -> &'static str {
        match self {
            AccessReason::DirectMember => "directMember",
            AccessReason::NotMember => "notMember",
            AccessReason::StatusAllows(_) => "statusAllows",
            AccessReason::UserSuspended => "userSuspended",
            AccessReason::UserDeleted => "userDeleted",
            AccessReason::MobileNotRequired(_) => "mobileNotRequired",
            AccessReason::MobileDeviceEnrolled(_) => "mobileDeviceEnrolled",
            AccessReason::MobileDeviceMissing(_) => "mobileDeviceMissing",
            AccessReason::StoringAllowed => "storingAllowed",
            AccessReason::StoringDisabled => "storingDisabled",
        }
    }

    /// Whether this fact is in the user's favour (`false` = it denies).
    pub fn allows(&self) -> bool {
        !matches!(
            self,
            AccessReason::NotMember
                | AccessReason::UserSuspended
                | AccessReason::UserDeleted
                | AccessReason::MobileDeviceMissing(_)
                | AccessReason::StoringDisabled
        )
    }
}

fn source_phrase(source: &Source) -> &'static str {
    match source {
        Source::TenantDefault => "the tenant default",
        Source::Override => "the group's own setting",
    }
}

impl fmt::Display for AccessReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccessReason::DirectMember => f.write_str("the user is a direct member of the group"),
            AccessReason::NotMember => f.write_str("the user is not a member of the group"),
            AccessReason::StatusAllows(s) => {
                write!(f, "the user is {s}, neither suspended nor deleted")
            }
            AccessReason::UserSuspended => {
                f.write_str("the user is suspended by the directory and has no access")
            }
            AccessReason::UserDeleted => f.write_str("the user has been deleted"),
            AccessReason::MobileNotRequired(s) => write!(
                f,
                "the group does not require mobile authentication ({})",
                source_phrase(s)
            ),
            AccessReason::MobileDeviceEnrolled(s) => write!(
                f,
                "the group requires mobile authentication ({}) and the user has a mobile device enrolled",
                source_phrase(s)
            ),
            AccessReason::MobileDeviceMissing(s) => write!(
                f,
                "the group requires mobile authentication ({}) and the user has no mobile device enrolled, so its data is hidden from them",
                source_phrase(s)
            ),
            AccessReason::StoringAllowed => f.write_str("members may store data in this group"),
            AccessReason::StoringDisabled => {
                f.write_str("storing data is switched off for members of this group")
            }
        }
    }
}

impl Serialize for AccessReason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("AccessReason", 3)?;
        s.serialize_field("code", self.code())?;
        s.serialize_field("allows", &self.allows())?;
        s.serialize_field("message", &self.to_string())?;
        s.end()
    }
}

/// The answer to "what may this user do with this group's data", with the
/// reasons. Serialises as `{"canView": true, "canStore": false, "reasons": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessDecision {
    /// The user may see the group's data.
    pub can_view: bool,
    /// The user may store data in the group.
    pub can_store: bool,
    /// Every fact considered, in order: membership, status, mobile
    /// requirement, store flag.
    pub reasons: Vec<AccessReason>,
}

impl AccessDecision {
    /// Only the reasons that deny something.
    pub fn denials(&self) -> impl Iterator<Item = &AccessReason> {
        self.reasons.iter().filter(|r| !r.allows())
    }
}

/// Decides whether a user may view and store data in a group.
///
/// ```
/// use provisioning_core::*;
/// let tenant = TenantScimSettings::default(); // groups require mobile auth
/// let group = tenant.effective_for_group(&GroupSettings::default());
/// let phoneless = UserAccessFacts { status: Status::Active, mobile_device_enrolled: false };
/// let d = decide_group_access(&phoneless, &group, Membership::DirectMember);
/// assert!(!d.can_view && !d.can_store);
/// assert!(d.reasons.contains(&AccessReason::MobileDeviceMissing(Source::TenantDefault)));
/// ```
pub fn decide_group_access(
    user: &UserAccessFacts,
    group: &EffectiveGroupSettings,
    membership: Membership,
) -> AccessDecision {
    let member = match membership {
        Membership::DirectMember => AccessReason::DirectMember,
        Membership::NotMember => AccessReason::NotMember,
    };
    let status = match user.status {
        Status::Suspended => AccessReason::UserSuspended,
        Status::Deleted => AccessReason::UserDeleted,
        s @ (Status::Staged | Status::Invited | Status::Active) => AccessReason::StatusAllows(s),
    };
    let source = group.require_mobile_auth.source;
    let mobile = match (group.require_mobile_auth.value, user.mobile_device_enrolled) {
        (false, _) => AccessReason::MobileNotRequired(source),
        (true, true) => AccessReason::MobileDeviceEnrolled(source),
        (true, false) => AccessReason::MobileDeviceMissing(source),
    };
    let store = if group.members_can_store_data {
        AccessReason::StoringAllowed
    } else {
        AccessReason::StoringDisabled
    };
    let can_view = member.allows() && status.allows() && mobile.allows();
    let can_store = can_view && store.allows();
    AccessDecision {
        can_view,
        can_store,
        reasons: vec![member, status, mobile, store],
    }
}

//! Tenant SCIM settings, per-user and per-group overrides, and the effective
//! values they resolve to, each with the place it came from.
//!
//! The rule is a single sentence of the setup guide: *individual settings for
//! users and groups override the default SCIM settings*. An override is
//! tri-state ([`Override::Inherit`], [`Override::On`], [`Override::Off`]);
//! [`resolve`] turns a tenant default and an override into an [`Effective`]
//! value that remembers its [`Source`].

use serde::{Deserialize, Serialize};
use std::fmt;

/// Where an effective value came from.
///
/// Serialises as `"tenantDefault"` or `"override"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Source {
    /// The tenant's SCIM setting applies (the user or group inherits it).
    TenantDefault,
    /// An individual setting on the user or group overrides the tenant default.
    Override,
}

impl Source {
    /// The name on the wire, as serialised: `"tenantDefault"` or `"override"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Source::TenantDefault => "tenantDefault",
            Source::Override => "override",
        }
    }

    /// Words for people (messages, the console): `"tenant default"` or
    /// `"individual override"`.
    pub const fn describe(self) -> &'static str {
        match self {
            Source::TenantDefault => "tenant default",
            Source::Override => "individual override",
        }
    }
}

/// The wire name ([`Source::as_str`]), so a `Source` prints as it
/// serialises; [`Source::describe`] gives the words for people.
///
/// ```
/// use provisioning_core::Source;
/// assert_eq!(Source::Override.to_string(), "override");
/// assert_eq!(serde_json::to_value(Source::Override).unwrap(), "override");
/// assert_eq!(Source::Override.describe(), "individual override");
/// ```
impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An individual setting on a user or a group: inherit the tenant default,
/// or force it on or off.
///
/// Serialises as JSON `null` (inherit), `true` (on) or `false` (off), the
/// shape of the admin API and of the SCIM product extension (where an absent
/// attribute means inherit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(from = "Option<bool>", into = "Option<bool>")]
pub enum Override {
    /// No individual setting: the tenant default applies.
    #[default]
    Inherit,
    /// Individually switched on, whatever the tenant default says.
    On,
    /// Individually switched off, whatever the tenant default says.
    Off,
}

impl Override {
    /// Every override, in a fixed order (handy for truth tables).
    pub const ALL: [Override; 3] = [Override::Inherit, Override::On, Override::Off];

    /// The override as the admin API carries it: `None` = inherit.
    pub fn as_option(self) -> Option<bool> {
        match self {
            Override::Inherit => None,
            Override::On => Some(true),
            Override::Off => Some(false),
        }
    }
}

impl From<Option<bool>> for Override {
    fn from(value: Option<bool>) -> Self {
        match value {
            None => Override::Inherit,
            Some(true) => Override::On,
            Some(false) => Override::Off,
        }
    }
}

impl From<Override> for Option<bool> {
    fn from(value: Override) -> Self {
        value.as_option()
    }
}

/// An effective value and where it came from.
///
/// Serialises as `{"value": true, "source": "tenantDefault"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Effective<T> {
    /// The value in effect.
    pub value: T,
    /// Whether it is the tenant default or an individual override.
    pub source: Source,
}

/// Resolves one setting: the override wins unless it is
/// [`Override::Inherit`], in which case the tenant default applies.
///
/// ```
/// use provisioning_core::{resolve, Override, Source};
/// let e = resolve(true, Override::Off);
/// assert!(!e.value);
/// assert_eq!(e.source, Source::Override);
/// assert_eq!(resolve(true, Override::Inherit).source, Source::TenantDefault);
/// ```
pub fn resolve(tenant_default: bool, individual: Override) -> Effective<bool> {
    match individual {
        Override::Inherit => Effective {
            value: tenant_default,
            source: Source::TenantDefault,
        },
        Override::On => Effective {
            value: true,
            source: Source::Override,
        },
        Override::Off => Effective {
            value: false,
            source: Source::Override,
        },
    }
}

/// A tenant's SCIM settings (admin portal → Settings → Integrations).
///
/// Serialises as `{"automaticInvitation": false, "requireMobileAuthForUsers":
/// true, "requireMobileAuthForGroups": true}`; [`Default`] gives the product
/// defaults (invitation off, both mobile requirements on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantScimSettings {
    /// Automatic invitation: after provisioning, an activation email goes out
    /// (at the next admin check-in). Off means admins decide when users may
    /// activate. Default: off.
    pub automatic_invitation: bool,
    /// Require mobile authentication for users provisioned via SCIM: they must
    /// use the mobile app, so activation enrols a mobile device. Default: on.
    pub require_mobile_auth_for_users: bool,
    /// Require mobile authentication for groups provisioned via SCIM: data in
    /// those groups is hidden from users without a mobile device. Default: on.
    pub require_mobile_auth_for_groups: bool,
}

impl Default for TenantScimSettings {
    fn default() -> Self {
        TenantScimSettings {
            automatic_invitation: false,
            require_mobile_auth_for_users: true,
            require_mobile_auth_for_groups: true,
        }
    }
}

impl TenantScimSettings {
    /// The settings in effect for a user with these individual overrides.
    pub fn effective_for_user(&self, overrides: &UserOverrides) -> EffectiveUserSettings {
        EffectiveUserSettings {
            automatic_invitation: resolve(
                self.automatic_invitation,
                overrides.automatic_invitation,
            ),
            require_mobile_auth: resolve(
                self.require_mobile_auth_for_users,
                overrides.require_mobile_auth,
            ),
        }
    }

    /// The settings in effect for a group with these individual settings.
    pub fn effective_for_group(&self, group: &GroupSettings) -> EffectiveGroupSettings {
        EffectiveGroupSettings {
            require_mobile_auth: resolve(
                self.require_mobile_auth_for_groups,
                group.require_mobile_auth,
            ),
            members_can_store_data: group.members_can_store_data,
        }
    }
}

/// A user's individual settings. [`Default`] inherits everything.
///
/// Serialises as `{"automaticInvitation": null, "requireMobileAuth": false}`
/// (`null` = inherit; a missing key also reads as inherit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserOverrides {
    /// Overrides the tenant's automatic invitation for this user.
    #[serde(default)]
    pub automatic_invitation: Override,
    /// Overrides the tenant's "require mobile authentication for users".
    #[serde(default)]
    pub require_mobile_auth: Override,
}

/// A group's individual settings.
///
/// [`Default`] is what a SCIM-provisioned group starts with: mobile
/// requirement inherited, members may store data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupSettings {
    /// Overrides the tenant's "require mobile authentication for groups".
    #[serde(default)]
    pub require_mobile_auth: Override,
    /// Members may store data in this group (admin portal → Organisation →
    /// Groups → (group) → Settings). Default: true.
    #[serde(default = "default_members_can_store_data")]
    pub members_can_store_data: bool,
}

fn default_members_can_store_data() -> bool {
    true
}

impl Default for GroupSettings {
    fn default() -> Self {
        GroupSettings {
            require_mobile_auth: Override::Inherit,
            members_can_store_data: default_members_can_store_data(),
        }
    }
}

/// The settings in effect for one user, each with its source.
///
/// Serialises as `{"automaticInvitation": {"value": false, "source":
/// "tenantDefault"}, "requireMobileAuth": {"value": true, "source":
/// "override"}}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EffectiveUserSettings {
    /// Whether an invitation is queued automatically when the user is provisioned.
    pub automatic_invitation: Effective<bool>,
    /// Whether the user must enrol a mobile device to activate.
    pub require_mobile_auth: Effective<bool>,
}

/// The settings in effect for one group.
///
/// Serialises as `{"requireMobileAuth": {"value": true, "source":
/// "tenantDefault"}, "membersCanStoreData": true}`. The store flag is a
/// per-group setting with no tenant default, so it has no source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EffectiveGroupSettings {
    /// Whether the group's data is hidden from members without a mobile device.
    pub require_mobile_auth: Effective<bool>,
    /// Whether members may store data in the group.
    pub members_can_store_data: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_defaults() {
        let t = TenantScimSettings::default();
        assert!(!t.automatic_invitation);
        assert!(t.require_mobile_auth_for_users);
        assert!(t.require_mobile_auth_for_groups);
        let g = GroupSettings::default();
        assert!(g.members_can_store_data);
        assert_eq!(g.require_mobile_auth, Override::Inherit);
        assert_eq!(
            UserOverrides::default().automatic_invitation,
            Override::Inherit
        );
        assert_eq!(
            UserOverrides::default().require_mobile_auth,
            Override::Inherit
        );
    }

    #[test]
    fn override_round_trips_through_option() {
        for o in Override::ALL {
            assert_eq!(Override::from(o.as_option()), o);
        }
        assert_eq!(Override::from(None), Override::Inherit);
        assert_eq!(Override::from(Some(true)), Override::On);
        assert_eq!(Override::from(Some(false)), Override::Off);
    }
}

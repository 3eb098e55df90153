//! The small traits a store implements so the rules can be driven end to end.
//!
//! The rules themselves never use these traits: they take values and return
//! values. [`execute`] is the glue a store (or a test) can reuse: load the
//! lifecycle, apply the command, and save the new lifecycle together with
//! its events. An implementation of [`LifecycleStore::save_lifecycle`] must
//! write the lifecycle, the audit records and the outbox rows
//! ([`Event::is_outbox`]) in one transaction.

use crate::events::Event;
use crate::lifecycle::{Command, TransitionError, UserLifecycle};
use crate::settings::{GroupSettings, TenantScimSettings, UserOverrides};
use chrono::{DateTime, Utc};

/// Loads and saves users' lifecycles.
pub trait LifecycleStore {
    /// How the store identifies a user.
    type UserId;
    /// The store's error.
    type Error;

    /// The user's lifecycle, or `None` if there is no such user.
    fn load_lifecycle(&mut self, user: &Self::UserId)
    -> Result<Option<UserLifecycle>, Self::Error>;

    /// Saves the user's new lifecycle and the events of the transition that
    /// produced it, atomically.
    fn save_lifecycle(
        &mut self,
        user: &Self::UserId,
        lifecycle: &UserLifecycle,
        events: &[Event],
    ) -> Result<(), Self::Error>;
}

/// Loads the settings that effective values are computed from.
pub trait SettingsStore {
    /// How the store identifies a user.
    type UserId;
    /// How the store identifies a group.
    type GroupId;
    /// The store's error.
    type Error;

    /// The tenant's SCIM settings.
    fn tenant_settings(&mut self) -> Result<TenantScimSettings, Self::Error>;
    /// A user's individual settings.
    fn user_overrides(&mut self, user: &Self::UserId) -> Result<UserOverrides, Self::Error>;
    /// A group's individual settings.
    fn group_settings(&mut self, group: &Self::GroupId) -> Result<GroupSettings, Self::Error>;
}

/// Why [`execute`] did not apply a command.
#[derive(Debug, thiserror::Error)]
pub enum ExecuteError<E> {
    /// The store has no such user.
    #[error("no such user")]
    UnknownUser,
    /// The rules refused the transition; nothing was saved.
    #[error(transparent)]
    Rejected(#[from] TransitionError),
    /// The store failed.
    #[error("store error: {0}")]
    Store(E),
}

/// Loads the user's lifecycle, applies `command` at `now`, and saves the new
/// lifecycle with the emitted events. Nothing is saved when the rules refuse.
pub fn execute<S: LifecycleStore>(
    store: &mut S,
    user: &S::UserId,
    command: Command,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, ExecuteError<S::Error>> {
    let mut lifecycle = store
        .load_lifecycle(user)
        .map_err(ExecuteError::Store)?
        .ok_or(ExecuteError::UnknownUser)?;
    let events = lifecycle.apply(command, now)?;
    store
        .save_lifecycle(user, &lifecycle, &events)
        .map_err(ExecuteError::Store)?;
    Ok(events)
}

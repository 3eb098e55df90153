//! The error of a rejected PATCH, and the deactivation that still applies.

use std::fmt;

use scim_model::{ScimError, ScimType};

use crate::Outcome;

/// Why a PATCH request was rejected (always a `400`).
///
/// The request is atomic: nothing of it applies, with one exception, the product
/// rule **deactivation wins**: when the request validly sets `active` to `false`,
/// [`PatchError::deactivation`] holds the outcome of applying only `active = false`
/// to the original resource. The caller must apply that outcome (suspend the user),
/// then answer with this error; [`ScimError::from`] says so in the `detail`.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub struct PatchError {
    /// The SCIM error keyword (`invalidValue`, `invalidPath`, `noTarget`, ...).
    pub scim_type: ScimType,
    /// Index (0-based) of the rejected operation in `Operations`, or `None` when the
    /// request as a whole was rejected (no operations, too many operations).
    pub operation: Option<usize>,
    /// What is wrong, in words.
    pub detail: String,
    /// When the request validly sets `active` to `false`: the deactivation alone.
    pub deactivation: Option<Box<Deactivation>>,
}

/// The part of a rejected request that still applies: `active = false`.
#[derive(Clone, Debug, PartialEq)]
pub struct Deactivation {
    /// Indices (0-based) of the operations that set `active` to `false`.
    pub operations: Vec<usize>,
    /// The original resource with only `active` set to `false`. Its
    /// [`ChangeSet::changed`](crate::ChangeSet::changed) is `false` when the user was
    /// already inactive.
    pub outcome: Outcome,
}

impl PatchError {
    pub(crate) fn new(scim_type: ScimType, operation: Option<usize>, detail: String) -> Self {
        PatchError {
            scim_type,
            operation,
            detail,
            deactivation: None,
        }
    }

    /// The SCIM error keyword.
    pub fn scim_type(&self) -> ScimType {
        self.scim_type
    }

    /// Index (0-based) of the rejected operation, if one operation is to blame.
    pub fn operation(&self) -> Option<usize> {
        self.operation
    }

    /// What is wrong.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// The deactivation that applies despite the error (see the type docs).
    pub fn deactivation(&self) -> Option<&Deactivation> {
        self.deactivation.as_deref()
    }
}

impl fmt::Display for PatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.operation {
            Some(i) => write!(f, "Operations[{i}] rejected: {}", self.detail)?,
            None => f.write_str(&self.detail)?,
        }
        if let Some(d) = &self.deactivation {
            let ops: Vec<String> = d.operations.iter().map(|i| i.to_string()).collect();
            write!(
                f,
                "; the deactivation (active = false, Operations[{}]) was applied on its own, \
                 every other operation was rejected",
                ops.join(", ")
            )?;
        }
        Ok(())
    }
}

impl From<PatchError> for ScimError {
    fn from(e: PatchError) -> Self {
        ScimError::bad_request(e.scim_type, e.to_string())
    }
}

impl From<&PatchError> for ScimError {
    fn from(e: &PatchError) -> Self {
        ScimError::bad_request(e.scim_type, e.to_string())
    }
}

/// An error inside one operation, before its index is known.
#[derive(Clone, Debug)]
pub(crate) struct OpError {
    pub(crate) scim_type: ScimType,
    pub(crate) detail: String,
}

impl OpError {
    pub(crate) fn new(scim_type: ScimType, detail: impl Into<String>) -> Self {
        OpError {
            scim_type,
            detail: detail.into(),
        }
    }
    pub(crate) fn value(detail: impl Into<String>) -> Self {
        Self::new(ScimType::InvalidValue, detail)
    }
    pub(crate) fn path(detail: impl Into<String>) -> Self {
        Self::new(ScimType::InvalidPath, detail)
    }
    pub(crate) fn mutability(detail: impl Into<String>) -> Self {
        Self::new(ScimType::Mutability, detail)
    }
    pub(crate) fn no_target(detail: impl Into<String>) -> Self {
        Self::new(ScimType::NoTarget, detail)
    }
    pub(crate) fn at(self, index: usize) -> PatchError {
        PatchError::new(self.scim_type, Some(index), self.detail)
    }
}

impl From<scim_model::resource::ResourceError> for OpError {
    fn from(e: scim_model::resource::ResourceError) -> Self {
        OpError::new(e.scim_type, e.detail)
    }
}

impl From<scim_model::FilterError> for OpError {
    fn from(e: scim_model::FilterError) -> Self {
        OpError::new(ScimType::InvalidFilter, e.to_string())
    }
}

impl From<scim_model::PathError> for OpError {
    fn from(e: scim_model::PathError) -> Self {
        OpError::new(ScimType::InvalidPath, e.to_string())
    }
}

//! What `--mask` hides: every value a reference resolved to, and every
//! variable the command gets that held a reference (a JSON member, an
//! expanded member, a `--cert` part, a token), as the command sees it.

use super::{variables, Given};
use crate::mask::SHORTEST;
use crate::plan::Plan;
use crate::resolve::Resolution;
use crate::secret::SecretBytes;

/// The values to mask, and the variables whose values are too short to be
/// masked (they would mask ordinary text).
pub(crate) fn mask_values(
    plan: &Plan,
    resolution: &Resolution,
    given: &Given,
) -> Result<(Vec<SecretBytes>, Vec<String>), crate::error::Error> {
    let (vars, _warnings) = variables(plan, resolution, given)?;
    let (mut values, mut short) = (Vec::new(), Vec::new());
    for (name, value) in &vars {
        let shown = name.to_string_lossy();
        let held_one = plan.items.iter().any(|i| i.is_var() && i.label() == shown)
            || given.tokens.iter().any(|t| t.var == shown)
            || !given.vars.iter().any(|(n, _)| n == name);
        if !held_one || value.expose().is_empty() {
            continue;
        }
        if value.len() < SHORTEST {
            short.push(shown.into_owned());
        } else {
            values.push(SecretBytes::new(value.expose().to_vec()));
        }
    }
    for fetched in resolution.values.values() {
        if fetched.value.len() >= SHORTEST {
            values.push(SecretBytes::new(fetched.value.expose().to_vec()));
        }
    }
    Ok((values, short))
}

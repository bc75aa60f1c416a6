//! `run --mask`: the values to mask, one warning for each variable too short
//! to mask, and with `--mask=github` in GitHub Actions the `::add-mask::`
//! lines, printed before the command starts.

use crate::child::Given;
use crate::error::Error;
use crate::mask::{MaskMode, Masked};
use crate::plan::Plan;
use crate::resolve::Resolution;

pub(crate) fn prepare(
    mode: MaskMode,
    plan: &Plan,
    resolution: &Resolution,
    given: &Given,
) -> Result<Masked, Error> {
    let (values, short) = crate::child::mask_values(plan, resolution, given)?;
    if !given.quiet {
        for var in short {
            crate::output::lines(&format!(
                "{var}: its value is shorter than {} bytes, so --mask does not mask it (it would mask ordinary text)",
                crate::mask::SHORTEST
            ));
        }
    }
    let in_actions = given
        .vars
        .iter()
        .any(|(name, value)| name == "GITHUB_ACTIONS" && value == "true");
    if mode == MaskMode::Github && in_actions {
        let lines = crate::mask::github_lines(values.iter().map(|v| v.expose()));
        super::print(|out| out.write_all(lines.expose()))?;
    }
    Ok(Masked::new(values))
}

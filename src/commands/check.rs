//! `kvenv check`: every reference with its outcome, as a table or JSON;
//! exit 0 when all resolve, 1 otherwise. Never a value.

use super::rows::{shape_rows, token_rows};
use super::shared::{prepare, print, read_templates, resolve, shapes, with_texts, Mode, Resolved};
use crate::cli::{CheckArgs, Output};
use crate::error::{Error, Status};
use crate::plan::Plan;
use crate::report;
use crate::vars::Vars;
use std::path::{Path, PathBuf};

/// `kvenv check`: every reference with its outcome; exit 1 if any failed.
/// The exit status: 0 when every reference resolves (or is optional), 1 otherwise.
pub(crate) fn check(args: CheckArgs, vars: Vars) -> Result<i32, Error> {
    let (settings, vars) = prepare(&args.common, vars)?;
    let vars = vars.entries();
    let paths: Vec<&Path> = args.template.iter().map(PathBuf::as_path).collect();
    let texts = read_templates(&paths)?;
    let plan = Plan::of(vars, &with_texts(&paths, &texts), settings.cloud);
    let tokens = crate::token::targets(&args.token.tokens, &args.token.allowed, settings.cloud)?;
    let shapes = shapes(&args.shapes, &plan, vars)?;
    let Resolved { resolution, .. } =
        resolve(&plan, &tokens, &shapes, &settings, Mode::Report, false)?;
    let mut rows = plan.rows(&resolution, &|var| shapes.makes_file(var));
    shape_rows(&mut rows, &plan, &resolution, &shapes, vars, &tokens);
    rows.extend(token_rows(&tokens, &resolution, &resolution.credential));
    let narrowed = settings.identity.kind == crate::identity::CredentialKind::Auto
        && matches!(
            crate::identity::token_credentials(&settings.identity.env),
            Ok(Some(_))
        );
    if narrowed && !args.common.quiet && !resolution.credential.is_empty() {
        // Which credential AZURE_TOKEN_CREDENTIALS left `auto` with.
        crate::output::lines(&format!("credential: {}", resolution.credential));
    }
    drop(resolution);
    let text = match args.output {
        Output::Table if rows.is_empty() => String::new(),
        Output::Table => report::table(&rows),
        Output::Json => report::json(&rows),
    };
    if rows.is_empty() && !args.common.quiet {
        // Not an error (a HEALTHCHECK on an image without references passes),
        // but a header alone would look like a broken report.
        crate::output::lines("no references found");
    }
    print(|out| out.write_all(text.as_bytes()))?;
    if rows
        .iter()
        .all(|r| r.status == Status::Resolved || r.optional)
    {
        Ok(0)
    } else {
        Ok(crate::error::EXIT_CHECK_FAILED)
    }
}

//! `check`'s rows for what the plan alone does not show: the shaping
//! options' outcome and the `--token`s.

use crate::error::Status;
use crate::plan::Plan;
use crate::reference::Reference;
use crate::resolve::Resolution;
use crate::token::TokenTarget;

/// `check` under the shaping options: an optional row that is not found is
/// marked so (and passes); a resolved row whose JSON option fails takes that
/// failure, as `run` would report it.
pub(crate) fn shape_rows(
    rows: &mut [crate::plan::Row],
    plan: &Plan,
    resolution: &Resolution,
    shapes: &crate::shape::Shapes,
    vars: &[(std::ffi::OsString, std::ffi::OsString)],
    tokens: &[TokenTarget],
) {
    let mut taken = crate::shape::Taken::new(vars, tokens.iter().map(|t| t.var.as_str()));
    for row in rows.iter_mut() {
        let Some(item) = plan
            .items
            .iter()
            .find(|i| i.is_var() && i.label() == row.location)
        else {
            continue;
        };
        let var = item.label();
        let failure = crate::error::Failure {
            status: row.status,
            detail: String::new(),
            hint: None,
        };
        if row.status != Status::Resolved {
            row.optional = shapes.excuses(var, &failure);
            continue;
        }
        let named = item
            .whole_reference()
            .map_or_else(|| var.to_string(), |r| r.to_string());
        let shaped = shapes
            .apply(
                var,
                item.render(resolution),
                item.content_type(resolution),
                &named,
            )
            .and_then(|shaped| match &shaped {
                crate::shape::Shaped::Expanded(members) => {
                    let names: Vec<&str> = members.iter().map(|(n, _)| n.as_str()).collect();
                    taken.claim(var, shapes.prefix(var), &names)
                }
                _ => Ok(()),
            });
        if let Err(f) = shaped {
            row.status = f.status;
            row.detail = f.detail;
            row.hint = f.hint;
            continue;
        }
        let value = item.render(resolution);
        if let Some(Ok(cert)) =
            shapes.certificate(var, value.expose(), item.content_type(resolution), &named)
        {
            let now = crate::shape::now();
            if let Some((_, why)) = cert.invalid_at(now) {
                let note = format!("its certificate {why}");
                row.detail = match row.detail.is_empty() {
                    true => note,
                    false => format!("{}; {note}", row.detail),
                };
            }
            row.certificate = Some(cert.summary(now));
        }
    }
}

/// `--token` rows for `check`: the variable, the resource, the credential and
/// when the token expires; never the token.
pub(crate) fn token_rows(
    tokens: &[TokenTarget],
    resolution: &Resolution,
    credential: &str,
) -> Vec<crate::plan::Row> {
    tokens
        .iter()
        .map(|t| {
            let r = Reference::Token(t.token.clone());
            let (status, detail, hint, expires_on) =
                match (resolution.values.get(&r), resolution.failures.get(&r)) {
                    (Some(fetched), _) => {
                        let expires = fetched
                            .expires_on
                            .as_ref()
                            .map(azure_core::time::to_rfc3339);
                        let detail = format!(
                            "token for {} from {credential}{}",
                            t.token.scope,
                            expires
                                .as_ref()
                                .map(|e| format!(", expires {e}"))
                                .unwrap_or_default()
                        );
                        (Status::Resolved, detail, None, expires)
                    }
                    (None, Some(f)) => (f.status, f.detail.clone(), f.hint.clone(), None),
                    (None, None) => (Status::OtherReasons, "not attempted".into(), None, None),
                };
            crate::plan::Row {
                location: t.var.clone(),
                reference: Some(r),
                via: None,
                resolved_version: None,
                status,
                detail,
                hint,
                expires_on,
                optional: false,
                meta: None,
                certificate: None,
            }
        })
        .collect()
}

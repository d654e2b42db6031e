//! A stored project's document: what `POST /projects` and `PUT /projects/{id}` accept, checked
//! field by field (the needs by [`Needs::read`], their errors named `needs.<field>`), with the
//! defaults written in so that what is stored says everything.

use serde_json::{Map, Value as Json};

use super::needs::{BadNeed, Needs};
use crate::model::{PROJECT_CONFIDENTIALITY, PROJECT_KINDS};

/// The members of a project document.
pub const PROJECT_FIELDS: &[&str] = &["name", "kind", "confidentiality", "description", "needs"];

/// Longest name, characters.
const MAX_NAME: usize = 200;
/// Longest description, characters.
const MAX_DESCRIPTION: usize = 4000;

fn bad(field: &str, detail: impl Into<String>) -> BadNeed {
    BadNeed {
        field: field.to_string(),
        detail: detail.into(),
        unprocessable: false,
    }
}

/// Checks a project document and completes it (`kind` prospect, `confidentiality` partners
/// when absent); the needs as read.
///
/// ```
/// use terriens::matching::read_project;
/// let body = serde_json::json!({"name": "Panneaux bois", "needs": {"land_min_ha": 5}});
/// let (doc, needs) = read_project(body.as_object().unwrap(), &|_| true).unwrap();
/// assert_eq!(doc["confidentiality"], "partners");
/// assert_eq!(needs.land_min_ha, Some(5.0));
/// let bad = serde_json::json!({"name": "x", "needs": {"land_min_ha": -1}});
/// assert_eq!(read_project(bad.as_object().unwrap(), &|_| true).unwrap_err().field, "needs.land_min_ha");
/// ```
pub fn read_project(
    body: &Map<String, Json>,
    known_occupation: &dyn Fn(&str) -> bool,
) -> Result<(Map<String, Json>, Needs), BadNeed> {
    if let Some(k) = body.keys().find(|k| !PROJECT_FIELDS.contains(&k.as_str())) {
        return Err(bad(
            k,
            format!(
                "unknown member; a project has {} (the needs go in `needs`)",
                PROJECT_FIELDS.join(", ")
            ),
        ));
    }
    if let Some((k, _)) = body.iter().find(|(_, v)| v.is_null()) {
        return Err(bad(
            k,
            "null is not a value here: leave the member out for its default",
        ));
    }
    let text = |field: &str| -> Result<Option<String>, BadNeed> {
        match body.get(field) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(s)) => Ok(Some(s.trim().to_string())),
            Some(_) => Err(bad(field, "a string")),
        }
    };
    let name = text("name")?.filter(|n| !n.is_empty()).ok_or_else(|| {
        bad(
            "name",
            "required: the project's name, e.g. \"Usine de panneaux\"",
        )
    })?;
    if name.chars().count() > MAX_NAME {
        return Err(bad("name", format!("at most {MAX_NAME} characters")));
    }
    let one_of = |field: &str, values: &[&str]| -> Result<String, BadNeed> {
        match text(field)? {
            None => Ok(values[0].to_string()),
            Some(v) if values.contains(&v.as_str()) => Ok(v),
            Some(v) => Err(bad(
                field,
                format!(
                    "`{v}`: one of {} (default {})",
                    values.join(", "),
                    values[0]
                ),
            )),
        }
    };
    let kind = one_of("kind", &PROJECT_KINDS)?;
    let confidentiality = one_of("confidentiality", &PROJECT_CONFIDENTIALITY)?;
    let description = text("description")?.filter(|d| !d.is_empty());
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION)
    {
        return Err(bad(
            "description",
            format!("at most {MAX_DESCRIPTION} characters"),
        ));
    }
    let needs_doc = match body.get("needs") {
        Some(Json::Object(m)) => m.clone(),
        None | Some(Json::Null) => {
            return Err(bad(
                "needs",
                "required: the project's needs, as the body of POST /match",
            ));
        }
        Some(_) => return Err(bad("needs", "an object, as the body of POST /match")),
    };
    let needs = Needs::read(&needs_doc, known_occupation).map_err(|e| BadNeed {
        field: format!("needs.{}", e.field),
        ..e
    })?;
    let mut doc = Map::new();
    doc.insert("name".into(), Json::String(name));
    doc.insert("kind".into(), Json::String(kind));
    doc.insert("confidentiality".into(), Json::String(confidentiality));
    if let Some(d) = description {
        doc.insert("description".into(), Json::String(d));
    }
    doc.insert("needs".into(), Json::Object(needs_doc));
    Ok((doc, needs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(body: Json) -> String {
        read_project(body.as_object().unwrap(), &|c| c == "A1Z40")
            .unwrap_err()
            .field
    }

    #[test]
    fn every_member_is_checked_and_named() {
        let needs = json!({"land_min_ha": 5});
        assert_eq!(field(json!({"needs": needs})), "name");
        assert_eq!(field(json!({"name": "  ", "needs": needs})), "name");
        assert_eq!(field(json!({"name": "x"})), "needs");
        assert_eq!(field(json!({"name": "x", "needs": [1]})), "needs");
        assert_eq!(
            field(json!({"name": "x", "needs": needs, "kind": "dream"})),
            "kind"
        );
        assert_eq!(
            field(json!({"name": "x", "needs": needs, "confidentiality": "secret"})),
            "confidentiality"
        );
        assert_eq!(
            field(json!({"name": "x", "needs": needs, "owner": "me"})),
            "owner"
        );
        assert_eq!(
            field(
                json!({"name": "x", "needs": {"occupations": [{"code": "Z9Z99", "headcount": 2}]}})
            ),
            "needs.occupations[0].code"
        );
        let (doc, _) = read_project(
            json!({"name": " Scierie ", "kind": "endogenous", "confidentiality": "public", "needs": needs})
                .as_object()
                .unwrap(),
            &|_| true,
        )
        .unwrap();
        assert_eq!(
            Json::Object(doc),
            json!({"name": "Scierie", "kind": "endogenous", "confidentiality": "public", "needs": needs})
        );
    }
}

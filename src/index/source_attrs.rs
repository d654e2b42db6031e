//! Source attributes: the properties a layer's features kept from their source files that are
//! not fields of the schema (`Feature::extra`, e.g. Cartofriches' `site_type`), with a type
//! inferred over the layer's values so that the filter grammar can read them like fields.
//!
//! Inference (over the non-null values of one attribute in the rows an audience may see): all
//! numbers (or text holding a number, as CSV gives) → `number`; all booleans (or `true`/`false`
//! text) → `boolean`; any other mix of scalars → `text`. An attribute holding only arrays or
//! objects is not listed.
//!
//! Cost: a layer infers once, on first use (a filter naming an attribute that is not a field,
//! or the catalog), and keeps the answer for its lifetime; a write makes a new layer whose
//! cache starts empty ([`SourceAttrsCache`]'s `Clone`), so writes never pay for inference.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use serde_json::{Map, Value as Json};

use super::LayerData;
use crate::model::Audience;

/// The inferred type of a source attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    Number,
    Bool,
    Text,
}

impl AttrType {
    /// The name shown in the catalog and in error messages (those of `model::FieldType`).
    pub fn name(self) -> &'static str {
        match self {
            AttrType::Number => "number",
            AttrType::Bool => "boolean",
            AttrType::Text => "string",
        }
    }
}

/// One source attribute of a layer.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceAttr {
    pub name: String,
    pub ty: AttrType,
    /// Rows (among those seen) where it has a non-null value.
    pub rows: usize,
}

/// The source attributes of a layer as one audience sees it, by name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceAttrs {
    attrs: Vec<SourceAttr>,
}

/// What the values of one attribute looked like so far.
#[derive(Default)]
struct Seen {
    rows: usize,
    numbers: usize,
    bools: usize,
    scalars: usize,
}

impl SourceAttrs {
    /// Infers the attributes of `rows` of `data`.
    pub fn infer(data: &LayerData, rows: impl Iterator<Item = u32>) -> SourceAttrs {
        let mut seen: BTreeMap<&str, Seen> = BTreeMap::new();
        for row in rows {
            let Some(extra) = data.extra(row) else {
                continue;
            };
            for (k, v) in extra {
                let s = seen.entry(k.as_str()).or_default();
                match v {
                    Json::Null => {}
                    Json::String(t) if t.trim().is_empty() => {}
                    Json::Array(_) | Json::Object(_) => s.rows += 1,
                    scalar => {
                        s.rows += 1;
                        s.scalars += 1;
                        if as_number(scalar).is_some() {
                            s.numbers += 1;
                        }
                        if as_bool(scalar).is_some() {
                            s.bools += 1;
                        }
                    }
                }
            }
        }
        let attrs = seen
            .into_iter()
            .filter(|(_, s)| s.scalars > 0 || s.rows == 0)
            .map(|(name, s)| SourceAttr {
                name: name.to_string(),
                ty: if s.scalars > 0 && s.numbers == s.scalars {
                    AttrType::Number
                } else if s.scalars > 0 && s.bools == s.scalars {
                    AttrType::Bool
                } else {
                    AttrType::Text
                },
                rows: s.rows,
            })
            .collect();
        SourceAttrs { attrs }
    }

    /// The attribute of this name.
    pub fn get(&self, name: &str) -> Option<&SourceAttr> {
        self.attrs
            .binary_search_by(|a| a.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.attrs[i])
    }

    /// Every attribute, by name.
    pub fn iter(&self) -> impl Iterator<Item = &SourceAttr> {
        self.attrs.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.attrs.is_empty()
    }
}

/// A value read as a number: a JSON number, or text holding a finite one.
pub fn as_number(v: &Json) -> Option<f64> {
    match v {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s.trim().parse::<f64>().ok().filter(|x| x.is_finite()),
        _ => None,
    }
}

/// A value read as a boolean: a JSON boolean, or the text `true` / `false`.
pub fn as_bool(v: &Json) -> Option<bool> {
    match v {
        Json::Bool(b) => Some(*b),
        Json::String(s) if s.trim().eq_ignore_ascii_case("true") => Some(true),
        Json::String(s) if s.trim().eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// A scalar value as the text a text condition compares (numbers as JSON writes them).
pub fn as_text(v: &Json) -> Option<std::borrow::Cow<'_, str>> {
    match v {
        Json::String(s) => Some(std::borrow::Cow::Borrowed(s.as_str())),
        Json::Number(n) => Some(std::borrow::Cow::Owned(n.to_string())),
        Json::Bool(b) => Some(std::borrow::Cow::Borrowed(if *b {
            "true"
        } else {
            "false"
        })),
        _ => None,
    }
}

/// The value of attribute `name` in an extras map.
pub fn value<'a>(extra: Option<&'a Map<String, Json>>, name: &str) -> Option<&'a Json> {
    extra?.get(name)
}

/// A layer's inferred source attributes, per audience, made on first use. A clone (what
/// `LayerData::with_changes` starts from) is empty: the changed layer infers anew if asked.
#[derive(Debug, Default)]
pub(super) struct SourceAttrsCache {
    full: OnceLock<Arc<SourceAttrs>>,
    public: OnceLock<Arc<SourceAttrs>>,
}

impl Clone for SourceAttrsCache {
    fn clone(&self) -> SourceAttrsCache {
        SourceAttrsCache::default()
    }
}

impl SourceAttrsCache {
    pub(super) fn get_or_init(
        &self,
        audience: Audience,
        init: impl FnOnce() -> SourceAttrs,
    ) -> Arc<SourceAttrs> {
        let slot = match audience {
            Audience::Full => &self.full,
            Audience::Public => &self.public,
        };
        slot.get_or_init(|| Arc::new(init())).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::LayerView;
    use crate::model::{Feature, Layer, schema};
    use serde_json::json;

    fn plot(id: u64, extra: Json) -> Feature {
        Feature {
            id,
            version: 1,
            geometry: geo_types::Point::new(0.1, 49.5).into(),
            props: vec![None; schema(Layer::Plots).fields.len()],
            extra: extra.as_object().cloned().unwrap_or_default(),
        }
    }

    #[test]
    fn types_are_inferred_over_the_values() {
        let data = Arc::new(LayerData::build(
            Layer::Plots,
            vec![
                plot(
                    1,
                    json!({"n": 1, "t": "a", "b": true, "mixed": 1, "csv": "12.5", "list": [1]}),
                ),
                plot(
                    2,
                    json!({"n": 2.5, "t": "b", "b": "false", "mixed": "x", "csv": " 3 "}),
                ),
                plot(3, json!({"n": null, "t": "", "only_null": null})),
            ],
        ));
        let attrs = LayerView::new(&data, Audience::Public).source_attrs();
        let ty = |n: &str| attrs.get(n).map(|a| a.ty);
        assert_eq!(ty("n"), Some(AttrType::Number));
        assert_eq!(attrs.get("n").unwrap().rows, 2);
        assert_eq!(ty("t"), Some(AttrType::Text));
        assert_eq!(ty("b"), Some(AttrType::Bool));
        assert_eq!(ty("mixed"), Some(AttrType::Text));
        assert_eq!(ty("csv"), Some(AttrType::Number));
        assert_eq!(ty("list"), None);
        assert_eq!(ty("only_null"), Some(AttrType::Text));
        // Cached: the same Arc on a second ask; a changed layer infers anew.
        let again = LayerView::new(&data, Audience::Public).source_attrs();
        assert!(Arc::ptr_eq(&attrs, &again));
        let changed = Arc::new(data.with_changes([plot(4, json!({"n": "many"}))], &[]));
        let attrs = LayerView::new(&changed, Audience::Public).source_attrs();
        assert_eq!(attrs.get("n").map(|a| a.ty), Some(AttrType::Text));
    }

    /// What a confidential deposit keeps from its source is not shown to the public: neither
    /// the attribute (catalog, error lists) nor the row (a filter on it).
    #[test]
    fn hidden_rows_lend_no_attributes_and_match_no_filter() {
        let s = schema(Layer::WasteDeposits);
        let deposit = |id: u64, confidentiality: &str, extra: Json| {
            let mut props = vec![None; s.fields.len()];
            let (i, _) = s.field("confidentiality").unwrap();
            props[i] = Some(crate::model::Value::Text(confidentiality.into()));
            Feature {
                id,
                version: 1,
                geometry: geo_types::Point::new(0.1, 49.5).into(),
                props,
                extra: extra.as_object().cloned().unwrap_or_default(),
            }
        };
        let data = Arc::new(LayerData::build(
            Layer::WasteDeposits,
            vec![
                deposit(1, "public", json!({"site": "quai"})),
                deposit(2, "partners", json!({"site": "usine", "contract": "C-17"})),
            ],
        ));
        let public = LayerView::new(&data, Audience::Public);
        let full = LayerView::new(&data, Audience::Full);
        assert!(public.source_attrs().get("contract").is_none());
        assert_eq!(public.source_attrs().get("site").unwrap().rows, 1);
        assert!(full.source_attrs().get("contract").is_some());
        let p = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
        let err = crate::index::Filter::parse_in(&public, &p("contract", "C-17"), &[]);
        assert!(
            err.is_err(),
            "an attribute of hidden rows only is unknown to the public"
        );
        let f = crate::index::Filter::parse_in(&full, &p("contract", "C-17"), &[]).unwrap();
        let rows: Vec<u32> = public
            .visible_rows(0..2)
            .filter(|&r| f.matches(&data, r))
            .collect();
        assert!(rows.is_empty(), "the hidden row stays hidden: {rows:?}");
        let rows: Vec<u32> = full
            .visible_rows(0..2)
            .filter(|&r| f.matches(&data, r))
            .collect();
        assert_eq!(rows.len(), 1);
    }
}

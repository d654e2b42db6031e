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
//! or the catalog), and keeps the answer — per-attribute counts of what its values look like —
//! for its lifetime. The counts are sums over rows, so a layer made by a change from one that
//! had inferred gets its own in O(change): the parent's counts, less the rows taken out, plus
//! the rows put in ([`AttrsUpdate`], driven by `LayerData::with_changes`). A layer whose parent
//! never inferred starts empty and infers on first use, so a write never scans the layer.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use serde_json::{Map, Value as Json};

use super::LayerData;
use super::visibility::Visibility;
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

/// What the values of one attribute look like, as counts of rows (signed: an update adds and
/// takes out).
#[derive(Debug, Clone, Default, PartialEq)]
struct Seen {
    /// Rows holding the attribute, null included.
    present: i64,
    /// Rows holding a value that is not null (nor blank text).
    rows: i64,
    numbers: i64,
    bools: i64,
    scalars: i64,
}

/// Per attribute name, what its values look like.
type Counts = BTreeMap<String, Seen>;

/// Adds (`sign` 1) or takes out (-1) one row's extras.
fn count(counts: &mut Counts, extra: &Map<String, Json>, sign: i64) {
    for (k, v) in extra {
        if !counts.contains_key(k) {
            counts.insert(k.clone(), Seen::default());
        }
        let Some(s) = counts.get_mut(k) else {
            continue;
        };
        s.present += sign;
        match v {
            Json::Null => {}
            Json::String(t) if t.trim().is_empty() => {}
            Json::Array(_) | Json::Object(_) => s.rows += sign,
            scalar => {
                s.rows += sign;
                s.scalars += sign;
                if as_number(scalar).is_some() {
                    s.numbers += sign;
                }
                if as_bool(scalar).is_some() {
                    s.bools += sign;
                }
            }
        }
        if s.present == 0 {
            counts.remove(k);
        }
    }
}

/// The counts of `rows` of `data`.
fn counts_of(data: &LayerData, rows: impl Iterator<Item = u32>) -> Counts {
    let mut counts = Counts::new();
    for row in rows {
        if let Some(extra) = data.extra(row) {
            count(&mut counts, extra, 1);
        }
    }
    counts
}

impl SourceAttrs {
    /// Infers the attributes of `rows` of `data`.
    pub fn infer(data: &LayerData, rows: impl Iterator<Item = u32>) -> SourceAttrs {
        SourceAttrs::from_counts(&counts_of(data, rows))
    }

    fn from_counts(counts: &Counts) -> SourceAttrs {
        let attrs = counts
            .iter()
            .filter(|(_, s)| s.present > 0 && (s.scalars > 0 || s.rows == 0))
            .map(|(name, s)| SourceAttr {
                name: name.clone(),
                ty: if s.scalars > 0 && s.numbers == s.scalars {
                    AttrType::Number
                } else if s.scalars > 0 && s.bools == s.scalars {
                    AttrType::Bool
                } else {
                    AttrType::Text
                },
                rows: s.rows.max(0) as usize,
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

/// What a layer inferred for one audience: the counts and the attributes made from them.
#[derive(Debug)]
struct Inferred {
    counts: Counts,
    attrs: Arc<SourceAttrs>,
}

impl Inferred {
    fn new(counts: Counts) -> Arc<Inferred> {
        let attrs = Arc::new(SourceAttrs::from_counts(&counts));
        Arc::new(Inferred { counts, attrs })
    }
}

/// A layer's inferred source attributes, per audience (every row, and the rows of the public
/// where the layer hides some), made on first use. A clone is empty; `with_changes` fills the
/// changed layer's from its parent's through [`AttrsUpdate`].
#[derive(Debug, Default)]
pub(super) struct SourceAttrsCache {
    full: OnceLock<Arc<Inferred>>,
    public: OnceLock<Arc<Inferred>>,
}

impl Clone for SourceAttrsCache {
    fn clone(&self) -> SourceAttrsCache {
        SourceAttrsCache::default()
    }
}

impl SourceAttrsCache {
    fn slot(&self, audience: Audience) -> &OnceLock<Arc<Inferred>> {
        match audience {
            Audience::Full => &self.full,
            Audience::Public => &self.public,
        }
    }

    /// The attributes for `audience` (whose rows `data` and `rows` are), inferred if needed.
    pub(super) fn get_or_init(
        &self,
        audience: Audience,
        data: &LayerData,
        rows: impl Iterator<Item = u32>,
    ) -> Arc<SourceAttrs> {
        self.slot(audience)
            .get_or_init(|| Inferred::new(counts_of(data, rows)))
            .attrs
            .clone()
    }

    /// An update of the counts this cache holds, for a layer made from this one by changes.
    pub(super) fn update(&self) -> AttrsUpdate {
        AttrsUpdate {
            full: self.full.get().map(|i| i.counts.clone()),
            public: self.public.get().map(|i| i.counts.clone()),
        }
    }
}

/// The counts of a parent layer adjusted row by row as a change takes rows out and puts rows
/// in (O(change)); nothing to do for an audience the parent never inferred for.
pub(super) struct AttrsUpdate {
    full: Option<Counts>,
    public: Option<Counts>,
}

impl AttrsUpdate {
    /// Takes out a row's contribution (before it is overwritten or deleted).
    pub(super) fn take_out(&mut self, data: &LayerData, row: u32) {
        self.apply(data, row, -1);
    }

    /// Puts in a row's contribution (after it was written).
    pub(super) fn put_in(&mut self, data: &LayerData, row: u32) {
        self.apply(data, row, 1);
    }

    fn apply(&mut self, data: &LayerData, row: u32, sign: i64) {
        if self.full.is_none() && self.public.is_none() {
            return;
        }
        let Some(extra) = data.extra(row) else {
            return;
        };
        if let Some(c) = &mut self.full {
            count(c, extra, sign);
        }
        if let Some(c) = &mut self.public
            && Visibility::new(Audience::Public, data).row_visible(row)
        {
            count(c, extra, sign);
        }
    }

    /// The changed layer's cache.
    pub(super) fn finish(self) -> SourceAttrsCache {
        let cache = SourceAttrsCache::default();
        if let Some(c) = self.full {
            let _ = cache.full.set(Inferred::new(c));
        }
        if let Some(c) = self.public {
            let _ = cache.public.set(Inferred::new(c));
        }
        cache
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
        // Cached: the same Arc on a second ask.
        let again = LayerView::new(&data, Audience::Public).source_attrs();
        assert!(Arc::ptr_eq(&attrs, &again));
        // A changed layer's attributes follow from its parent's and the changed rows, and
        // equal a fresh inference over the changed layer.
        let changed = Arc::new(data.with_changes([plot(4, json!({"n": "many"}))], &[]));
        let attrs = LayerView::new(&changed, Audience::Public).source_attrs();
        assert_eq!(attrs.get("n").map(|a| a.ty), Some(AttrType::Text));
        let steps: Vec<(Vec<Feature>, Vec<u64>)> = vec![
            (vec![], vec![4]),
            (vec![plot(2, json!({"t": "c"}))], vec![1]),
            (vec![plot(5, json!({"list": [2], "csv": "x"}))], vec![3]),
            (vec![], vec![2, 5]),
        ];
        let mut layer = changed;
        for (puts, deletes) in steps {
            layer = Arc::new(layer.with_changes(puts, &deletes));
            let kept = layer
                .source_attrs_cache()
                .full
                .get()
                .map(|i| i.attrs.clone());
            let fresh = SourceAttrs::infer(&layer, 0..layer.len() as u32);
            assert_eq!(kept.as_deref(), Some(&fresh), "kept through the change");
        }
        assert!(
            layer
                .source_attrs_cache()
                .full
                .get()
                .unwrap()
                .attrs
                .is_empty()
        );
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
        // Made public by an edit: its attributes reach the public, kept through the change.
        let published = Arc::new(data.with_changes(
            [deposit(
                2,
                "public",
                json!({"site": "usine", "contract": "C-17"}),
            )],
            &[],
        ));
        let kept = published
            .source_attrs_cache()
            .public
            .get()
            .unwrap()
            .attrs
            .clone();
        let public = LayerView::new(&published, Audience::Public);
        assert_eq!(kept.get("contract").map(|a| a.rows), Some(1));
        assert_eq!(*kept, SourceAttrs::infer(&published, public.rows()));
        // And hidden again.
        let hidden = Arc::new(
            published.with_changes([deposit(2, "partners", json!({"contract": "C-18"}))], &[]),
        );
        let kept = hidden
            .source_attrs_cache()
            .public
            .get()
            .unwrap()
            .attrs
            .clone();
        assert!(kept.get("contract").is_none());
        assert_eq!(kept.get("site").map(|a| a.rows), Some(1));
    }
}

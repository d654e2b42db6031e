//! The attribute filter grammar, shared by search, OGC items and tiles.
//!
//! A filter is a list of query parameters, each one condition on a typed field of a layer; all
//! conditions must hold (AND). A feature whose value is unknown (null) never satisfies a
//! condition on that field.
//!
//! | parameter | field type | meaning |
//! |---|---|---|
//! | `area_ha=5..20`, `area_ha=5..`, `area_ha=..20`, `area_ha=12` | number, integer | inclusive range, or equality |
//! | `area_ha_min=5`, `area_ha_max=20` | number, integer | lower / upper bound |
//! | `material=wood,plastic` | enum, text | one of the values |
//! | `turnkey=true` | boolean | equality |
//! | `available_from=..2027-06-30` | date | inclusive range (`YYYY-MM-DD`) |
//! | `available_from_before=2027-06-30`, `available_from_after=…` | date | upper / lower bound |
//! | `available_before=2027-06-30`, `available_after=…` | date field `X_from` | short forms of the two above |
//!
//! Source attributes (properties kept from the source file that are not fields, see
//! [`super::source_attrs`]) are filtered the same way by their inferred type — number: ranges
//! and `_min`/`_max`; boolean: equality; text: one of the values — when the filter is parsed
//! against the layer ([`Filter::parse_in`]); they are read per candidate row from its extras.
//!
//! Unknown fields, values of the wrong type, unknown enum values and empty ranges are errors
//! that name the parameter and list what is valid.

use std::fmt::Write as _;
use std::sync::Arc;

use chrono::NaiveDate;

use super::cql2::Cql2Filter;
use super::source_attrs::{self, AttrType, SourceAttrs};
use super::{Column, LayerData, LayerView};
use crate::model::{FieldType, Layer, LayerSchema, schema};

/// Why a filter parameter is invalid. Every variant names the parameter.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FilterError {
    #[error("unknown filter `{param}` for layer {layer}; filterable fields are: {valid}")]
    UnknownField {
        param: String,
        layer: Layer,
        valid: String,
    },
    #[error("field `{field}` ({ty}) cannot be filtered")]
    NotFilterable {
        param: String,
        field: &'static str,
        ty: &'static str,
    },
    #[error("`{param}` must be {expected}, got `{value}`")]
    WrongType {
        param: String,
        expected: &'static str,
        value: String,
    },
    #[error("`{param}={value}` is an empty range: the lower bound is above the upper bound")]
    EmptyRange { param: String, value: String },
    #[error("`{param}`: unknown value `{value}`; valid values are: {valid}")]
    UnknownValue {
        param: String,
        value: String,
        valid: String,
    },
    #[error("`{param}` has no value")]
    NoValue { param: String },
}

impl FilterError {
    /// The parameter at fault.
    pub fn param(&self) -> &str {
        match self {
            FilterError::UnknownField { param, .. }
            | FilterError::NotFilterable { param, .. }
            | FilterError::WrongType { param, .. }
            | FilterError::EmptyRange { param, .. }
            | FilterError::UnknownValue { param, .. }
            | FilterError::NoValue { param } => param,
        }
    }
}

/// One condition on one field.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    /// Inclusive bounds on a number or integer.
    Range {
        lo: f64,
        hi: f64,
    },
    /// Inclusive bounds on a date.
    Dates {
        lo: NaiveDate,
        hi: NaiveDate,
    },
    Bool(bool),
    /// Bit i set: variant i of the enum matches.
    Enum(u64),
    /// Text equal to one of these.
    Text(Vec<String>),
}

/// A condition on a field (by position in the layer's schema).
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub field: usize,
    pub cond: Cond,
}

/// A condition on a source attribute, by name (`Range`, `Bool` or `Text`).
#[derive(Debug, Clone, PartialEq)]
pub struct ExtraCondition {
    pub name: String,
    pub cond: Cond,
}

/// A parsed filter for one layer: all conditions must hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    layer: Layer,
    conditions: Vec<Condition>,
    /// Conditions on source attributes (read from each row's extras).
    extras: Vec<ExtraCondition>,
    /// A CQL2 filter (OGC API – Features Part 3), ANDed with the conditions.
    cql2: Option<Arc<Cql2Filter>>,
}

impl Filter {
    /// The filter that keeps everything.
    pub fn all(layer: Layer) -> Filter {
        Filter {
            layer,
            conditions: Vec::new(),
            extras: Vec::new(),
            cql2: None,
        }
    }

    pub fn layer(&self) -> Layer {
        self.layer
    }

    /// Whether the filter keeps every row.
    pub fn is_empty(&self) -> bool {
        self.conditions.is_empty() && self.extras.is_empty() && self.cql2.is_none()
    }

    /// The same filter, also requiring a CQL2 filter (translated onto the same conditions by
    /// [`super::cql2`]).
    pub fn with_cql2(mut self, f: Cql2Filter) -> Filter {
        self.cql2 = Some(Arc::new(f));
        self
    }

    pub fn conditions(&self) -> &[Condition] {
        &self.conditions
    }

    /// The conditions on source attributes.
    pub fn extra_conditions(&self) -> &[ExtraCondition] {
        &self.extras
    }

    /// Like [`Filter::parse`], and a parameter that names no field may name a source
    /// attribute of the rows `view` sees (inferred on first need, see
    /// [`LayerView::source_attrs`]), filtered by its inferred type.
    pub fn parse_in(
        view: &LayerView,
        params: &[(String, String)],
        reserved: &[&str],
    ) -> Result<Filter, FilterError> {
        let layer = view.layer();
        let s = schema(layer);
        let mut f = Filter::all(layer);
        let mut attrs: Option<std::sync::Arc<SourceAttrs>> = None;
        for (name, value) in params {
            if reserved.contains(&name.as_str()) {
                continue;
            }
            match f.push(s, name, value) {
                Err(FilterError::UnknownField {
                    param,
                    layer,
                    valid,
                }) => {
                    let attrs = attrs.get_or_insert_with(|| view.source_attrs());
                    f.push_extra(attrs, name, value).unwrap_or_else(|| {
                        Err(FilterError::UnknownField {
                            param,
                            layer,
                            valid: with_source_attrs(valid, attrs),
                        })
                    })?;
                }
                other => other?,
            }
        }
        Ok(f)
    }

    /// The condition of a parameter naming a source attribute (`name`, or `name_min` /
    /// `name_max` for a number); `None` when it names none.
    fn push_extra(
        &mut self,
        attrs: &SourceAttrs,
        param: &str,
        value: &str,
    ) -> Option<Result<(), FilterError>> {
        let (attr, bound) = match attrs.get(param) {
            Some(a) => (a, Bound::Exact),
            None => [("_min", Bound::Min), ("_max", Bound::Max)]
                .into_iter()
                .find_map(|(suffix, bound)| {
                    let a = attrs.get(param.strip_suffix(suffix)?)?;
                    (a.ty == AttrType::Number).then_some((a, bound))
                })?,
        };
        let value = value.trim();
        let cond = match attr.ty {
            AttrType::Number => {
                let open = (f64::NEG_INFINITY, f64::INFINITY);
                parse_range(param, value, bound, open, parse_number)
                    .map(|(lo, hi)| Cond::Range { lo, hi })
            }
            AttrType::Bool => match value.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Ok(Cond::Bool(true)),
                "false" | "0" | "no" => Ok(Cond::Bool(false)),
                _ => Err(wrong_type(param, value, "true or false")),
            },
            AttrType::Text => parse_text_values(param, value).map(Cond::Text),
        };
        Some(cond.map(|cond| {
            self.extras.push(ExtraCondition {
                name: attr.name.clone(),
                cond,
            })
        }))
    }

    /// Parses the filter parameters among `params`, skipping those named in `reserved` (the
    /// endpoint's own parameters, e.g. `lon`, `limit`).
    ///
    /// ```
    /// use terriens::index::Filter;
    /// use terriens::model::Layer;
    /// let params = vec![
    ///     ("material".to_string(), "wood,plastic".to_string()),
    ///     ("quantity_min".to_string(), "100".to_string()),
    ///     ("limit".to_string(), "10".to_string()),
    /// ];
    /// let f = Filter::parse(Layer::WasteDeposits, &params, &["limit"]).unwrap();
    /// assert_eq!(f.conditions().len(), 2);
    /// assert_eq!(f.canonical(), "material=plastic,wood&quantity=100..");
    /// let bad = vec![("colour".to_string(), "red".to_string())];
    /// assert!(Filter::parse(Layer::WasteDeposits, &bad, &[]).is_err());
    /// ```
    pub fn parse(
        layer: Layer,
        params: &[(String, String)],
        reserved: &[&str],
    ) -> Result<Filter, FilterError> {
        let s = schema(layer);
        let mut f = Filter::all(layer);
        for (name, value) in params {
            if reserved.contains(&name.as_str()) {
                continue;
            }
            f.push(s, name, value)?;
        }
        Ok(f)
    }

    /// Like [`Filter::parse`], but parameters naming no field of this layer are left out
    /// instead of rejected, and returned. Used where one request spans several layers (site
    /// search over plots and buildings, composite tiles): the caller checks that each left-out
    /// parameter is a field of some layer of the request.
    pub fn parse_lenient(
        layer: Layer,
        params: &[(String, String)],
        reserved: &[&str],
    ) -> Result<(Filter, Vec<String>), FilterError> {
        let s = schema(layer);
        let mut f = Filter::all(layer);
        let mut unknown = Vec::new();
        for (name, value) in params {
            if reserved.contains(&name.as_str()) {
                continue;
            }
            match f.push(s, name, value) {
                Err(FilterError::UnknownField { .. }) => unknown.push(name.clone()),
                other => other?,
            }
        }
        Ok((f, unknown))
    }

    /// Adds the condition of one parameter: resolve the field (and the `_min`/`_max` bound)
    /// → parse the value by the field's type → push the condition.
    fn push(&mut self, s: &LayerSchema, param: &str, value: &str) -> Result<(), FilterError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(FilterError::NoValue {
                param: param.to_string(),
            });
        }
        let (field_idx, bound) = resolve(s, param).ok_or_else(|| FilterError::UnknownField {
            param: param.to_string(),
            layer: s.layer,
            valid: filterable_names(s),
        })?;
        let field = &s.fields[field_idx];
        let cond = match field.ty {
            FieldType::Int | FieldType::Float => {
                let open = (f64::NEG_INFINITY, f64::INFINITY);
                let (lo, hi) = parse_range(param, value, bound, open, parse_number)?;
                Cond::Range { lo, hi }
            }
            FieldType::Date => {
                let open = (NaiveDate::MIN, NaiveDate::MAX);
                let (lo, hi) = parse_range(param, value, bound, open, parse_date)?;
                Cond::Dates { lo, hi }
            }
            FieldType::Bool => match value.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Cond::Bool(true),
                "false" | "0" | "no" => Cond::Bool(false),
                _ => return Err(wrong_type(param, value, "true or false")),
            },
            FieldType::Enum(variants) => Cond::Enum(parse_enum_mask(param, value, variants)?),
            FieldType::Text(_) => Cond::Text(parse_text_values(param, value)?),
            FieldType::Counts => {
                return Err(FilterError::NotFilterable {
                    param: param.to_string(),
                    field: field.name,
                    ty: field.ty.name(),
                });
            }
        };
        self.conditions.push(Condition {
            field: field_idx,
            cond,
        });
        Ok(())
    }

    /// Whether a row satisfies every condition.
    #[inline]
    pub fn matches(&self, data: &LayerData, row: u32) -> bool {
        self.conditions.iter().all(|c| matches_one(data, row, c))
            && (self.extras.is_empty() || self.extras_match(data, row))
            && self.cql2.as_ref().is_none_or(|f| f.matches(data, row))
    }

    /// Whether a row's extras satisfy every source-attribute condition (an absent or null
    /// value satisfies none, as for fields).
    fn extras_match(&self, data: &LayerData, row: u32) -> bool {
        let extra = data.extra(row);
        self.extras.iter().all(|c| {
            let Some(v) = source_attrs::value(extra, &c.name) else {
                return false;
            };
            match &c.cond {
                Cond::Range { lo, hi } => {
                    source_attrs::as_number(v).is_some_and(|x| x >= *lo && x <= *hi)
                }
                Cond::Bool(b) => source_attrs::as_bool(v) == Some(*b),
                Cond::Text(values) => source_attrs::as_text(v)
                    .is_some_and(|t| values.iter().any(|x| x.as_str() == t.trim())),
                Cond::Dates { .. } | Cond::Enum(_) => false,
            }
        })
    }

    /// A canonical text of the filter (sorted, normalised), for cache keys and ETags: two
    /// filters that select the same rows by the same conditions have the same text.
    pub fn canonical(&self) -> String {
        let s = schema(self.layer);
        let mut parts: Vec<String> = self
            .conditions
            .iter()
            .map(|c| {
                let field = &s.fields[c.field];
                canonical_condition(field.name, &c.cond, field.ty)
            })
            .chain(
                self.extras
                    .iter()
                    // Source attributes are numbers, booleans or text: never enums.
                    .map(|c| canonical_condition(&c.name, &c.cond, FieldType::Bool)),
            )
            .collect();
        parts.sort();
        if let Some(f) = &self.cql2 {
            parts.push(format!("~cql2={}", f.canonical()));
        }
        parts.join("&")
    }
}

/// `name=value` of one condition: ranges as `lo..hi` (open ends left empty), enum values by
/// name, sorted (`ty` gives the names).
fn canonical_condition(name: &str, cond: &Cond, ty: FieldType) -> String {
    let mut out = format!("{name}=");
    match cond {
        Cond::Range { lo, hi } => {
            if lo.is_finite() {
                let _ = write!(out, "{lo}");
            }
            out.push_str("..");
            if hi.is_finite() {
                let _ = write!(out, "{hi}");
            }
        }
        Cond::Dates { lo, hi } => {
            if *lo != NaiveDate::MIN {
                let _ = write!(out, "{lo}");
            }
            out.push_str("..");
            if *hi != NaiveDate::MAX {
                let _ = write!(out, "{hi}");
            }
        }
        Cond::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        Cond::Enum(mask) => {
            if let FieldType::Enum(variants) = ty {
                let mut names: Vec<&str> = variants
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| mask & (1 << i) != 0)
                    .map(|(_, v)| *v)
                    .collect();
                names.sort_unstable();
                out.push_str(&names.join(","));
            }
        }
        Cond::Text(values) => out.push_str(&values.join(",")),
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bound {
    Exact,
    Min,
    Max,
}

/// The field a parameter names, and which bound it sets.
fn resolve(s: &LayerSchema, param: &str) -> Option<(usize, Bound)> {
    if let Some((i, _)) = s.field(param) {
        return Some((i, Bound::Exact));
    }
    let suffixes = [
        ("_min", Bound::Min),
        ("_max", Bound::Max),
        ("_after", Bound::Min),
        ("_before", Bound::Max),
    ];
    for (suffix, bound) in suffixes {
        let Some(stem) = param.strip_suffix(suffix) else {
            continue;
        };
        let dated = matches!(suffix, "_after" | "_before");
        if let Some((i, f)) = s.field(stem) {
            let fits = match f.ty {
                FieldType::Int | FieldType::Float => !dated,
                FieldType::Date => true,
                _ => false,
            };
            if fits {
                return Some((i, bound));
            }
        }
        // `available_before` → `available_from`.
        if dated
            && let Some((i, f)) = s.field(&format!("{stem}_from"))
            && f.ty == FieldType::Date
        {
            return Some((i, bound));
        }
    }
    None
}

/// The list of filterable fields, followed by the source attributes of the layer.
fn with_source_attrs(valid: String, attrs: &SourceAttrs) -> String {
    if attrs.is_empty() {
        return valid;
    }
    let names: Vec<String> = attrs
        .iter()
        .map(|a| format!("{} ({})", a.name, a.ty.name()))
        .collect();
    format!("{valid}; source attributes: {}", names.join(", "))
}

/// Field names that can be filtered, for error messages.
pub fn filterable_names(s: &LayerSchema) -> String {
    s.fields
        .iter()
        .filter(|f| f.ty != FieldType::Counts)
        .map(|f| match f.ty {
            FieldType::Int | FieldType::Float => format!("{0} ({0}_min, {0}_max)", f.name),
            FieldType::Date => format!("{0} ({0}_before, {0}_after)", f.name),
            _ => f.name.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[inline]
pub(super) fn matches_one(data: &LayerData, row: u32, c: &Condition) -> bool {
    let r = row as usize;
    match (&c.cond, data.column(c.field)) {
        (Cond::Range { lo, hi }, Column::Float(col)) => {
            col[r].is_some_and(|x| x >= *lo && x <= *hi)
        }
        (Cond::Range { lo, hi }, Column::Int(col)) => col[r].is_some_and(|x| {
            let x = x as f64;
            x >= *lo && x <= *hi
        }),
        (Cond::Dates { lo, hi }, Column::Date(col)) => col[r].is_some_and(|d| d >= *lo && d <= *hi),
        (Cond::Bool(b), Column::Bool(col)) => col[r] == Some(*b),
        (Cond::Enum(mask), Column::Enum(col)) => col[r].is_some_and(|i| mask & (1 << i) != 0),
        (Cond::Text(values), Column::Text(col)) => {
            col.get(r).is_some_and(|v| values.iter().any(|x| x == v))
        }
        _ => false,
    }
}

/// The refusal of a value that does not parse as the field's type.
fn wrong_type(param: &str, value: &str, expected: &'static str) -> FilterError {
    FilterError::WrongType {
        param: param.to_string(),
        expected,
        value: value.to_string(),
    }
}

/// A finite number, or `None`.
fn parse_number(t: &str) -> Option<f64> {
    t.trim().parse::<f64>().ok().filter(|x| x.is_finite())
}

/// A date `YYYY-MM-DD`, or `None`.
fn parse_date(t: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(t.trim(), "%Y-%m-%d").ok()
}

/// What a range field expects, for the message of a value that does not parse.
trait RangeValue: PartialOrd + Copy {
    const EXPECTED: &'static str;
}

impl RangeValue for f64 {
    const EXPECTED: &'static str = "a number";
}

impl RangeValue for NaiveDate {
    const EXPECTED: &'static str = "a date YYYY-MM-DD";
}

/// The bounds of a range parameter (numbers and dates alike): `_min` and `_max` give one end,
/// the field's own name takes `a..b`, `a..`, `..b` or one value; an open end is `open`'s.
fn parse_range<T: RangeValue>(
    param: &str,
    value: &str,
    bound: Bound,
    open: (T, T),
    parse: fn(&str) -> Option<T>,
) -> Result<(T, T), FilterError> {
    let one = |t: &str| parse(t).ok_or_else(|| wrong_type(param, value, T::EXPECTED));
    let end = |t: &str, open: T| {
        if t.trim().is_empty() {
            Ok(open)
        } else {
            one(t)
        }
    };
    let (lo, hi) = match bound {
        Bound::Min => (one(value)?, open.1),
        Bound::Max => (open.0, one(value)?),
        Bound::Exact => match value.split_once("..") {
            Some((a, b)) => (end(a, open.0)?, end(b, open.1)?),
            None => {
                let x = one(value)?;
                (x, x)
            }
        },
    };
    if lo > hi {
        return Err(FilterError::EmptyRange {
            param: param.to_string(),
            value: value.to_string(),
        });
    }
    Ok((lo, hi))
}

/// The bit mask of the listed variants of an enum field (`material=wood,plastic`).
fn parse_enum_mask(
    param: &str,
    value: &str,
    variants: &'static [&'static str],
) -> Result<u64, FilterError> {
    let mut mask = 0u64;
    for v in value.split(',') {
        let v = v.trim();
        let Some(found) = crate::model::enum_variant(v, variants) else {
            return Err(FilterError::UnknownValue {
                param: param.to_string(),
                value: v.to_string(),
                valid: variants.join(", "),
            });
        };
        let i = variants.iter().position(|x| *x == found).unwrap_or(0);
        mask |= 1 << i;
    }
    Ok(mask)
}

/// The sorted, distinct values of a text parameter (`siren=a,b`).
fn parse_text_values(param: &str, value: &str) -> Result<Vec<String>, FilterError> {
    let mut values: Vec<String> = value
        .split(',')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    if values.is_empty() {
        // `siren=,,,` is no value at all, as `siren=` is (found by fuzzing: it used to give a
        // condition nothing matches, whose canonical form did not parse back).
        return Err(FilterError::NoValue {
            param: param.to_string(),
        });
    }
    values.sort();
    values.dedup();
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn grammar() {
        let f = Filter::parse(
            Layer::Plots,
            &p(&[
                ("area_ha", "5..20"),
                ("status", "available"),
                ("turnkey", "true"),
                ("available_before", "2027-06-30"),
                ("territory", "200084952"),
            ]),
            &[],
        )
        .unwrap();
        assert_eq!(
            f.canonical(),
            "area_ha=5..20&available_from=..2027-06-30&status=available&territory=200084952&turnkey=true"
        );
    }

    #[test]
    fn errors_name_the_parameter() {
        let cases: &[(&str, &str, &str)] = &[
            ("colour", "red", "filterable fields are"),
            ("area_ha", "big", "must be a number"),
            ("area_ha", "20..5", "empty range"),
            (
                "status",
                "gone",
                "valid values are: available, reserved, sold",
            ),
            ("turnkey", "maybe", "true or false"),
            ("available_before", "30/06/2027", "YYYY-MM-DD"),
            ("status_min", "3", "filterable fields are"),
            ("area_ha", "", "has no value"),
        ];
        for (k, v, msg) in cases {
            let err = Filter::parse(Layer::Plots, &p(&[(k, v)]), &[]).unwrap_err();
            assert_eq!(err.param(), *k);
            assert!(err.to_string().contains(msg), "{err}");
        }
        let err = Filter::parse(Layer::Catchments, &p(&[("candidates", "3")]), &[]).unwrap_err();
        assert!(matches!(err, FilterError::NotFilterable { .. }));
    }

    #[test]
    fn lenient_returns_unknown_names() {
        let (f, unknown) = Filter::parse_lenient(
            Layer::Plots,
            &p(&[("area_ha_min", "2"), ("floor_area_m2_min", "500")]),
            &[],
        )
        .unwrap();
        assert_eq!(f.conditions().len(), 1);
        assert_eq!(unknown, vec!["floor_area_m2_min".to_string()]);
    }

    #[test]
    fn text_list_of_only_commas_has_no_value() {
        let p = vec![("siren".to_string(), ",,,".to_string())];
        let err = Filter::parse(Layer::Territories, &p, &[]).unwrap_err();
        assert_eq!(
            err,
            FilterError::NoValue {
                param: "siren".into()
            }
        );
        let p = vec![("siren".to_string(), ",200084952,".to_string())];
        let f = Filter::parse(Layer::Territories, &p, &[]).unwrap();
        assert_eq!(f.canonical(), "siren=200084952");
    }
}

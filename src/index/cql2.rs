//! CQL2 filters (OGC API – Features Part 3, OGC 21-065r2): the `cql2` crate parses CQL2 text
//! or JSON to an expression tree; this module translates that tree onto the conditions of the
//! filter grammar ([`super::filter`]), so a CQL2 filter and the same query written as query
//! parameters select the same rows by the same code.
//!
//! Supported: the Basic CQL2 class (`AND`, `OR`, `NOT`, `=`, `<>`, `<`, `<=`, `>`, `>=`,
//! `IS [NOT] NULL` on every filterable field), Advanced comparison operators (`LIKE`,
//! `BETWEEN`, `IN`), Case-insensitive comparison (`CASEI`), and the spatial functions
//! (`S_INTERSECTS`, `S_DISJOINT`, `S_WITHIN`, `S_CONTAINS`, `S_TOUCHES`, `S_CROSSES`,
//! `S_OVERLAPS`, `S_EQUALS`) on the property `geometry` against a WKT or GeoJSON geometry or a
//! `BBOX`. Logic is three-valued as in SQL: a comparison with an unknown (null) value is
//! unknown, `NOT` of unknown is unknown, and only rows for which the filter is true are kept.
//! Anything else (arithmetic, temporal and array operators, functions) is refused by name.

use std::fmt;

use chrono::NaiveDate;
use cql2::Expr;
use geo::{BoundingRect, Relate};
use geo_types::{Geometry, MultiPolygon, Rect};

use super::filter::{Cond, Condition, Filter, FilterError, filterable_names, matches_one};
use super::{LayerData, ValueRef};
use crate::model::{FieldType, Layer, LayerSchema, schema};

/// The name of the geometry in CQL2 filters (and in the queryables).
pub const GEOMETRY_PROPERTY: &str = "geometry";

/// Why a CQL2 filter is refused. The text says where and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Cql2Error {
    #[error("invalid CQL2 text at line {line}, column {column}: {detail}")]
    Syntax {
        line: usize,
        column: usize,
        detail: String,
    },
    #[error("invalid CQL2 JSON at line {line}, column {column}: {detail}")]
    Json {
        line: usize,
        column: usize,
        detail: String,
    },
    #[error("invalid CQL2 filter: {0}")]
    Invalid(String),
    #[error("CQL2 `{0}` is not supported by this server")]
    Unsupported(String),
    #[error(transparent)]
    Field(#[from] FilterError),
}

/// The encoding of a filter (`filter-lang`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterLang {
    Text,
    Json,
}

impl FilterLang {
    /// `cql2-text` (also the draft name `cql-text`, which GDAL 3.6 sends) or `cql2-json`.
    pub fn parse(s: &str) -> Option<FilterLang> {
        match s.trim() {
            "cql2-text" | "cql-text" => Some(FilterLang::Text),
            "cql2-json" => Some(FilterLang::Json),
            _ => None,
        }
    }
}

/// Turns filter geometries into WGS84 lon/lat (the `filter-crs`).
pub type ToWgs84<'a> = &'a dyn Fn(&mut Geometry<f64>) -> Result<(), FilterCrsError>;

/// Why a filter geometry could not be brought from the `filter-crs` to WGS84. Built from the
/// CRS layer's error ([`crate::geo_util::CrsError`]) or from any message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FilterCrsError {
    /// What went wrong, as the client reads it after `filter-crs: `.
    pub message: String,
}

impl FilterCrsError {
    pub fn new(message: impl Into<String>) -> FilterCrsError {
        FilterCrsError {
            message: message.into(),
        }
    }
}

impl From<String> for FilterCrsError {
    fn from(message: String) -> FilterCrsError {
        FilterCrsError { message }
    }
}

impl From<crate::geo_util::CrsError> for FilterCrsError {
    fn from(e: crate::geo_util::CrsError) -> FilterCrsError {
        FilterCrsError::new(e.to_string())
    }
}

/// A spatial relation of CQL2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpatialOp {
    Intersects,
    Disjoint,
    Within,
    Contains,
    Touches,
    Crosses,
    Overlaps,
    Equals,
}

impl SpatialOp {
    fn parse(op: &str) -> Option<SpatialOp> {
        Some(match op {
            "s_intersects" => SpatialOp::Intersects,
            "s_disjoint" => SpatialOp::Disjoint,
            "s_within" => SpatialOp::Within,
            "s_contains" => SpatialOp::Contains,
            "s_touches" => SpatialOp::Touches,
            "s_crosses" => SpatialOp::Crosses,
            "s_overlaps" => SpatialOp::Overlaps,
            "s_equals" => SpatialOp::Equals,
            _ => return None,
        })
    }

    /// The relation with its arguments swapped (`S_WITHIN(a, b)` is `S_CONTAINS(b, a)`).
    fn swapped(self) -> SpatialOp {
        match self {
            SpatialOp::Within => SpatialOp::Contains,
            SpatialOp::Contains => SpatialOp::Within,
            other => other,
        }
    }
}

/// Text comparisons the grammar has no condition for (order, `LIKE`, case-insensitive).
#[derive(Debug, Clone, PartialEq)]
pub enum TextTest {
    Eq(String),
    Lt(String),
    Le(String),
    Gt(String),
    Ge(String),
    Like(String),
}

/// A translated filter: a tree whose leaves are conditions of the filter grammar.
#[derive(Debug, Clone, PartialEq)]
pub enum Predicate {
    All(Vec<Predicate>),
    Any(Vec<Predicate>),
    Not(Box<Predicate>),
    /// A condition of the filter grammar; unknown when the value is null.
    Cond(Condition),
    IsNull(usize),
    /// A text or enum value compared as text (lower-cased on both sides when `casei`).
    Text {
        field: usize,
        test: TextTest,
        casei: bool,
    },
    /// False, or unknown when the field is null (e.g. `x BETWEEN 5 AND 1`).
    Never(usize),
    Spatial {
        op: SpatialOp,
        shape: Geometry<f64>,
        bounds: Option<Rect<f64>>,
    },
}

/// A CQL2 filter of one layer, ready to run.
#[derive(Debug, Clone)]
pub struct Cql2Filter {
    predicate: Predicate,
    canonical: String,
}

impl PartialEq for Cql2Filter {
    fn eq(&self, other: &Cql2Filter) -> bool {
        self.canonical == other.canonical
    }
}

impl Cql2Filter {
    /// Parses and translates `text` for `layer`; filter geometries go through `to_wgs84`.
    pub fn parse(
        layer: Layer,
        text: &str,
        lang: FilterLang,
        to_wgs84: ToWgs84,
    ) -> Result<Cql2Filter, Cql2Error> {
        let expr = match lang {
            FilterLang::Text => cql2::parse_text(text).map_err(syntax_error)?,
            FilterLang::Json => cql2::parse_json(text).map_err(|e| Cql2Error::Json {
                line: e.line(),
                column: e.column(),
                detail: e.to_string(),
            })?,
        };
        let canonical = expr
            .to_text()
            .map_err(|e| Cql2Error::Invalid(e.to_string()))?;
        let t = Translator {
            schema: schema(layer),
            to_wgs84,
        };
        Ok(Cql2Filter {
            predicate: t.predicate(&expr)?,
            canonical,
        })
    }

    /// The filter as canonical CQL2 text (cursors, cache keys).
    pub fn canonical(&self) -> &str {
        &self.canonical
    }

    pub fn predicate(&self) -> &Predicate {
        &self.predicate
    }

    /// Whether the row satisfies the filter (true, not unknown).
    #[inline]
    pub fn matches(&self, data: &LayerData, row: u32) -> bool {
        self.predicate.eval(data, row) == Some(true)
    }
}

fn syntax_error(e: cql2::Error) -> Cql2Error {
    let text = e.to_string();
    // A pest error reads ` --> LINE:COLUMN`, then the line with a caret, then what was
    // expected.
    let position = text.split_once("--> ").and_then(|(_, rest)| {
        let (lc, _) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        let (l, c) = lc.split_once(':')?;
        Some((l.parse::<usize>().ok()?, c.parse::<usize>().ok()?))
    });
    match position {
        Some((line, column)) => {
            let expected = text
                .lines()
                .find_map(|l| l.trim().strip_prefix("= "))
                .unwrap_or("unexpected input");
            Cql2Error::Syntax {
                line,
                column,
                detail: expected.to_string(),
            }
        }
        None => Cql2Error::Invalid(text),
    }
}

impl Predicate {
    /// Three-valued evaluation: `None` is unknown.
    pub fn eval(&self, data: &LayerData, row: u32) -> Option<bool> {
        match self {
            Predicate::All(ps) => {
                let mut unknown = false;
                for p in ps {
                    match p.eval(data, row) {
                        Some(false) => return Some(false),
                        None => unknown = true,
                        Some(true) => {}
                    }
                }
                (!unknown).then_some(true)
            }
            Predicate::Any(ps) => {
                let mut unknown = false;
                for p in ps {
                    match p.eval(data, row) {
                        Some(true) => return Some(true),
                        None => unknown = true,
                        Some(false) => {}
                    }
                }
                (!unknown).then_some(false)
            }
            Predicate::Not(p) => p.eval(data, row).map(|b| !b),
            Predicate::Cond(c) => {
                data.value(row, c.field)?;
                Some(matches_one(data, row, c))
            }
            Predicate::IsNull(field) => Some(data.value(row, *field).is_none()),
            Predicate::Text { field, test, casei } => match data.value(row, *field)? {
                ValueRef::Text(v) => Some(text_test(v, test, *casei)),
                _ => None,
            },
            Predicate::Never(field) => data.value(row, *field).map(|_| false),
            Predicate::Spatial { op, shape, bounds } => {
                Some(spatial(*op, data.geometry(row), shape, *bounds))
            }
        }
    }
}

fn text_test(v: &str, test: &TextTest, casei: bool) -> bool {
    let lower;
    let v = if casei {
        lower = v.to_lowercase();
        lower.as_str()
    } else {
        v
    };
    match test {
        TextTest::Eq(x) => v == x,
        TextTest::Lt(x) => v < x.as_str(),
        TextTest::Le(x) => v <= x.as_str(),
        TextTest::Gt(x) => v > x.as_str(),
        TextTest::Ge(x) => v >= x.as_str(),
        TextTest::Like(p) => like(v, p),
    }
}

/// SQL `LIKE`: `%` any run, `_` one character, `\` escapes the next character.
pub fn like(text: &str, pattern: &str) -> bool {
    let t: Vec<char> = text.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    // Positions of `t` reachable after each prefix of `p` (a set, as a bitmap).
    let mut reach = vec![false; t.len() + 1];
    reach[0] = true;
    let mut i = 0;
    while i < p.len() {
        let (c, literal) = match p[i] {
            '\\' if i + 1 < p.len() => {
                i += 1;
                (p[i], true)
            }
            c => (c, false),
        };
        let mut next = vec![false; t.len() + 1];
        for j in 0..=t.len() {
            if !reach[j] {
                continue;
            }
            match c {
                '%' if !literal => next[j..].iter_mut().for_each(|x| *x = true),
                '_' if !literal => {
                    if j < t.len() {
                        next[j + 1] = true;
                    }
                }
                c => {
                    if j < t.len() && t[j] == c {
                        next[j + 1] = true;
                    }
                }
            }
        }
        reach = next;
        i += 1;
    }
    reach[t.len()]
}

fn spatial(
    op: SpatialOp,
    feature: &Geometry<f64>,
    shape: &Geometry<f64>,
    bounds: Option<Rect<f64>>,
) -> bool {
    let apart = match (bounds, feature.bounding_rect()) {
        (Some(a), Some(b)) => {
            a.max().x < b.min().x
                || b.max().x < a.min().x
                || a.max().y < b.min().y
                || b.max().y < a.min().y
        }
        _ => false,
    };
    match op {
        SpatialOp::Disjoint if apart => return true,
        SpatialOp::Disjoint => {}
        _ if apart => return false,
        _ => {}
    }
    let m = feature.relate(shape);
    match op {
        SpatialOp::Intersects => m.is_intersects(),
        SpatialOp::Disjoint => m.is_disjoint(),
        SpatialOp::Within => m.is_within(),
        SpatialOp::Contains => m.is_contains(),
        SpatialOp::Touches => m.is_touches(),
        SpatialOp::Crosses => m.is_crosses(),
        SpatialOp::Overlaps => m.is_overlaps(),
        SpatialOp::Equals => m.is_equal_topo(),
    }
}

/// A comparison operator of Basic CQL2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn parse(op: &str) -> Option<Cmp> {
        Some(match op {
            "=" => Cmp::Eq,
            "<>" => Cmp::Ne,
            "<" => Cmp::Lt,
            "<=" => Cmp::Le,
            ">" => Cmp::Gt,
            ">=" => Cmp::Ge,
            _ => return None,
        })
    }

    /// `5 < x` is `x > 5`.
    fn flipped(self) -> Cmp {
        match self {
            Cmp::Lt => Cmp::Gt,
            Cmp::Le => Cmp::Ge,
            Cmp::Gt => Cmp::Lt,
            Cmp::Ge => Cmp::Le,
            other => other,
        }
    }
}

impl fmt::Display for Cmp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Cmp::Eq => "=",
            Cmp::Ne => "<>",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        })
    }
}

/// A literal operand.
#[derive(Debug, Clone, PartialEq)]
enum Lit {
    Num(f64),
    Text(String),
    Bool(bool),
    Date(NaiveDate),
}

/// A property operand, possibly wrapped in `CASEI`.
struct Prop<'e> {
    name: &'e str,
    casei: bool,
}

struct Translator<'a> {
    schema: &'static LayerSchema,
    to_wgs84: ToWgs84<'a>,
}

impl Translator<'_> {
    fn predicate(&self, e: &Expr) -> Result<Predicate, Cql2Error> {
        match e {
            Expr::Operation { op, args } => self.operation(op, args),
            Expr::Bool(_) => Err(Cql2Error::Unsupported(
                "a constant true/false filter".into(),
            )),
            other => Err(Cql2Error::Invalid(format!(
                "expected a predicate, got {}",
                describe(other)
            ))),
        }
    }

    fn operation(&self, op: &str, args: &[Box<Expr>]) -> Result<Predicate, Cql2Error> {
        match op {
            "and" | "or" => {
                let ps = args
                    .iter()
                    .map(|a| self.predicate(a))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(if op == "and" {
                    Predicate::All(ps)
                } else {
                    Predicate::Any(ps)
                })
            }
            "not" => match args {
                [a] => Ok(Predicate::Not(Box::new(self.predicate(a)?))),
                _ => Err(arity("NOT", 1)),
            },
            "isNull" => match args {
                [a] => {
                    let p = self.prop(a)?;
                    Ok(Predicate::IsNull(self.field(p.name)?.0))
                }
                _ => Err(arity("IS NULL", 1)),
            },
            "like" => self.like(args),
            "between" => self.between(args),
            "in" => self.in_list(args),
            _ => {
                if let Some(cmp) = Cmp::parse(op) {
                    return self.comparison(cmp, args);
                }
                if let Some(s) = SpatialOp::parse(op) {
                    return self.spatial(s, args);
                }
                Err(Cql2Error::Unsupported(op.to_string()))
            }
        }
    }

    /// The field a property names.
    fn field(&self, name: &str) -> Result<(usize, FieldType), Cql2Error> {
        let (i, f) = self
            .schema
            .field(name)
            .ok_or_else(|| FilterError::UnknownField {
                param: name.to_string(),
                layer: self.schema.layer,
                valid: filterable_names(self.schema),
            })?;
        if f.ty == FieldType::Counts {
            return Err(FilterError::NotFilterable {
                param: name.to_string(),
                field: f.name,
                ty: f.ty.name(),
            }
            .into());
        }
        Ok((i, f.ty))
    }

    fn prop<'e>(&self, e: &'e Expr) -> Result<Prop<'e>, Cql2Error> {
        match e {
            Expr::Property { property } => Ok(Prop {
                name: property,
                casei: false,
            }),
            Expr::Operation { op, args } if op == "casei" => match args.as_slice() {
                [a] => match a.as_ref() {
                    Expr::Property { property } => Ok(Prop {
                        name: property,
                        casei: true,
                    }),
                    other => Err(expected("a property inside CASEI", other)),
                },
                _ => Err(arity("CASEI", 1)),
            },
            other => Err(expected("a property", other)),
        }
    }

    /// A literal, and whether it was wrapped in `CASEI`.
    fn lit(&self, e: &Expr) -> Result<(Lit, bool), Cql2Error> {
        Ok(match e {
            Expr::Float(x) => (Lit::Num(*x), false),
            Expr::Literal(s) => (Lit::Text(s.clone()), false),
            Expr::Bool(b) => (Lit::Bool(*b), false),
            Expr::Date { date } | Expr::Timestamp { timestamp: date } => match date.as_ref() {
                Expr::Literal(s) => (Lit::Date(parse_date(s)?), false),
                other => return Err(expected("a date", other)),
            },
            Expr::Operation { op, args } if op == "-" && args.len() == 1 => {
                match self.lit(&args[0])? {
                    (Lit::Num(x), _) => (Lit::Num(-x), false),
                    _ => return Err(expected("a number after `-`", &args[0])),
                }
            }
            Expr::Operation { op, args } if op == "casei" && args.len() == 1 => {
                (self.lit(&args[0])?.0, true)
            }
            other => return Err(expected("a literal value", other)),
        })
    }

    /// `(property, literal)` in either order; `flipped` when the literal came first.
    fn operands<'e>(
        &self,
        a: &'e Expr,
        b: &'e Expr,
    ) -> Result<(Prop<'e>, Lit, bool, bool), Cql2Error> {
        if let Ok(p) = self.prop(a) {
            let (l, ci) = self.lit(b)?;
            return Ok((p, l, ci, false));
        }
        let p = self.prop(b)?;
        let (l, ci) = self.lit(a)?;
        Ok((p, l, ci, true))
    }

    fn comparison(&self, cmp: Cmp, args: &[Box<Expr>]) -> Result<Predicate, Cql2Error> {
        let [a, b] = args else {
            return Err(arity(&cmp.to_string(), 2));
        };
        let (p, lit, lit_casei, flipped) = self.operands(a, b)?;
        let cmp = if flipped { cmp.flipped() } else { cmp };
        let casei = p.casei || lit_casei;
        if cmp == Cmp::Ne {
            let eq = self.compare(&p, Cmp::Eq, lit, casei)?;
            return Ok(Predicate::Not(Box::new(eq)));
        }
        self.compare(&p, cmp, lit, casei)
    }

    /// One comparison of a field with a literal (not `<>`).
    fn compare(&self, p: &Prop, cmp: Cmp, lit: Lit, casei: bool) -> Result<Predicate, Cql2Error> {
        let (field, ty) = self.field(p.name)?;
        let name = p.name;
        match (ty, lit) {
            (FieldType::Int | FieldType::Float, Lit::Num(x)) => {
                let (lo, hi) = match cmp {
                    Cmp::Lt => (f64::NEG_INFINITY, x.next_down()),
                    Cmp::Le => (f64::NEG_INFINITY, x),
                    Cmp::Gt => (x.next_up(), f64::INFINITY),
                    Cmp::Ge => (x, f64::INFINITY),
                    Cmp::Eq | Cmp::Ne => (x, x),
                };
                self.grammar(name, &num_range(lo, hi))
            }
            (FieldType::Date, lit) => {
                let d = match lit {
                    Lit::Date(d) => d,
                    Lit::Text(s) => parse_date(&s)?,
                    other => return Err(wrong_type(name, "a date", &other)),
                };
                let day = |d: Option<NaiveDate>| d.ok_or_else(|| out_of_range(name));
                let (lo, hi) = match cmp {
                    Cmp::Lt => (None, Some(day(d.pred_opt())?)),
                    Cmp::Le => (None, Some(d)),
                    Cmp::Gt => (Some(day(d.succ_opt())?), None),
                    Cmp::Ge => (Some(d), None),
                    Cmp::Eq | Cmp::Ne => (Some(d), Some(d)),
                };
                let text = |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
                self.grammar(name, &format!("{}..{}", text(lo), text(hi)))
            }
            (FieldType::Bool, Lit::Bool(b)) if cmp == Cmp::Eq => self.grammar(name, &b.to_string()),
            (FieldType::Enum(_), Lit::Text(s)) if cmp == Cmp::Eq => self.grammar(name, &s),
            (FieldType::Text(_), Lit::Text(s)) if cmp == Cmp::Eq && !casei => {
                Ok(Predicate::Cond(Condition {
                    field,
                    cond: Cond::Text(vec![s]),
                }))
            }
            (FieldType::Text(_) | FieldType::Enum(_), Lit::Text(s)) => {
                let s = if casei { s.to_lowercase() } else { s };
                let test = match cmp {
                    Cmp::Lt => TextTest::Lt(s),
                    Cmp::Le => TextTest::Le(s),
                    Cmp::Gt => TextTest::Gt(s),
                    Cmp::Ge => TextTest::Ge(s),
                    Cmp::Eq | Cmp::Ne => TextTest::Eq(s),
                };
                Ok(Predicate::Text { field, test, casei })
            }
            (FieldType::Bool, lit @ Lit::Bool(_)) => Err(Cql2Error::Invalid(format!(
                "`{name}` is a boolean: only = and <> compare it, not {cmp} {lit:?}"
            ))),
            (ty, lit) => Err(wrong_type(name, type_hint(ty), &lit)),
        }
    }

    /// A condition written in the filter grammar (`field=value`), parsed by it.
    fn grammar(&self, name: &str, value: &str) -> Result<Predicate, Cql2Error> {
        let params = [(name.to_string(), value.to_string())];
        let f = Filter::parse(self.schema.layer, &params, &[])?;
        match f.conditions() {
            [c] => Ok(Predicate::Cond(c.clone())),
            _ => Err(Cql2Error::Invalid(format!("cannot filter on `{name}`"))),
        }
    }

    fn like(&self, args: &[Box<Expr>]) -> Result<Predicate, Cql2Error> {
        let [a, b] = args else {
            return Err(arity("LIKE", 2));
        };
        let p = self.prop(a)?;
        let (lit, lit_casei) = self.lit(b)?;
        let (field, ty) = self.field(p.name)?;
        let casei = p.casei || lit_casei;
        match (ty, lit) {
            (FieldType::Text(_) | FieldType::Enum(_), Lit::Text(s)) => Ok(Predicate::Text {
                field,
                test: TextTest::Like(if casei { s.to_lowercase() } else { s }),
                casei,
            }),
            (ty, lit) => Err(wrong_type(p.name, type_hint(ty), &lit)),
        }
    }

    fn between(&self, args: &[Box<Expr>]) -> Result<Predicate, Cql2Error> {
        let [a, lo, hi] = args else {
            return Err(arity("BETWEEN", 3));
        };
        let p = self.prop(a)?;
        let (field, ty) = self.field(p.name)?;
        match (ty, self.lit(lo)?.0, self.lit(hi)?.0) {
            (FieldType::Int | FieldType::Float, Lit::Num(lo), Lit::Num(hi)) => {
                if lo > hi {
                    return Ok(Predicate::Never(field));
                }
                self.grammar(p.name, &num_range(lo, hi))
            }
            (ty, lit, _) => Err(wrong_type(p.name, type_hint(ty), &lit)),
        }
    }

    fn in_list(&self, args: &[Box<Expr>]) -> Result<Predicate, Cql2Error> {
        let [a, list] = args else {
            return Err(arity("IN", 2));
        };
        let p = self.prop(a)?;
        let Expr::Array(items) = list.as_ref() else {
            return Err(expected("a list after IN", list));
        };
        let ps = items
            .iter()
            .map(|item| {
                let (lit, ci) = self.lit(item)?;
                self.compare(&p, Cmp::Eq, lit, p.casei || ci)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Predicate::Any(ps))
    }

    fn spatial(&self, op: SpatialOp, args: &[Box<Expr>]) -> Result<Predicate, Cql2Error> {
        let [a, b] = args else {
            return Err(arity(&format!("{op:?}"), 2));
        };
        let is_geom =
            |e: &Expr| matches!(e, Expr::Property { property } if property == GEOMETRY_PROPERTY);
        let (op, other) = if is_geom(a.as_ref()) {
            (op, b)
        } else if is_geom(b.as_ref()) {
            (op.swapped(), a)
        } else {
            return Err(Cql2Error::Invalid(format!(
                "a spatial function compares the property `{GEOMETRY_PROPERTY}` with a geometry"
            )));
        };
        let mut shape = self.geometry(other)?;
        (self.to_wgs84)(&mut shape).map_err(|e| Cql2Error::Invalid(format!("filter-crs: {e}")))?;
        Ok(Predicate::Spatial {
            op,
            bounds: shape.bounding_rect(),
            shape,
        })
    }

    /// A geometry literal: WKT, GeoJSON or `BBOX(minx, miny, maxx, maxy)`.
    fn geometry(&self, e: &Expr) -> Result<Geometry<f64>, Cql2Error> {
        use geozero::ToGeo;
        let bad = |m: String| Cql2Error::Invalid(format!("bad geometry: {m}"));
        match e {
            Expr::Geometry(cql2::Geometry::Wkt(wkt)) => geozero::wkt::Wkt(wkt.as_str())
                .to_geo()
                .map_err(|err| bad(err.to_string())),
            Expr::Geometry(cql2::Geometry::GeoJSON(g)) => {
                let text = serde_json::to_string(g).map_err(|err| bad(err.to_string()))?;
                geozero::geojson::GeoJson(&text)
                    .to_geo()
                    .map_err(|err| bad(err.to_string()))
            }
            Expr::BBox { bbox } => {
                let nums = bbox
                    .iter()
                    .map(|x| match self.lit(x)? {
                        (Lit::Num(n), _) => Ok(n),
                        (other, _) => Err(bad(format!("BBOX takes numbers, got {other:?}"))),
                    })
                    .collect::<Result<Vec<f64>, Cql2Error>>()?;
                let [x0, y0, x1, y1] = match nums.as_slice() {
                    [a, b, c, d] => [*a, *b, *c, *d],
                    [a, b, _, c, d, _] => [*a, *b, *c, *d],
                    _ => return Err(bad("BBOX takes 4 or 6 numbers".into())),
                };
                Ok(bbox_geometry([x0, y0, x1, y1]))
            }
            other => Err(expected("a geometry", other)),
        }
    }
}

/// A box as a geometry; one crossing the antimeridian (`minx > maxx`) is split in two.
pub fn bbox_geometry([x0, y0, x1, y1]: [f64; 4]) -> Geometry<f64> {
    use geo_types::coord;
    let rect = |a: f64, b: f64| Rect::new(coord! {x: a, y: y0}, coord! {x: b, y: y1}).to_polygon();
    if x0 > x1 {
        Geometry::MultiPolygon(MultiPolygon(vec![rect(x0, 180.0), rect(-180.0, x1)]))
    } else {
        Geometry::Polygon(rect(x0, x1))
    }
}

fn num_range(lo: f64, hi: f64) -> String {
    let end = |x: f64| {
        if x.is_finite() {
            x.to_string()
        } else {
            String::new()
        }
    };
    if lo == hi {
        end(lo)
    } else {
        format!("{}..{}", end(lo), end(hi))
    }
}

/// A date, or the date of a timestamp (`2027-06-30T12:00:00Z`; GDAL also writes `2027-06-30T`).
fn parse_date(s: &str) -> Result<NaiveDate, Cql2Error> {
    let bad = || Cql2Error::Invalid(format!("`{s}` is not a date YYYY-MM-DD"));
    let d = s.get(..10).ok_or_else(bad)?;
    if s.len() > 10 && !matches!(s.as_bytes()[10], b'T' | b't' | b' ') {
        return Err(bad());
    }
    NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| bad())
}

fn type_hint(ty: FieldType) -> &'static str {
    match ty {
        FieldType::Int | FieldType::Float => "a number",
        FieldType::Date => "a date",
        FieldType::Bool => "true or false",
        FieldType::Enum(_) | FieldType::Text(_) => "a quoted string",
        FieldType::Counts => "nothing (not filterable)",
    }
}

fn wrong_type(name: &str, expected: &'static str, lit: &Lit) -> Cql2Error {
    let value = match lit {
        Lit::Num(x) => x.to_string(),
        Lit::Text(s) => format!("'{s}'"),
        Lit::Bool(b) => b.to_string(),
        Lit::Date(d) => format!("DATE('{d}')"),
    };
    FilterError::WrongType {
        param: name.to_string(),
        expected,
        value,
    }
    .into()
}

fn out_of_range(name: &str) -> Cql2Error {
    Cql2Error::Invalid(format!("the date compared with `{name}` is out of range"))
}

fn arity(op: &str, n: usize) -> Cql2Error {
    Cql2Error::Invalid(format!("{op} takes {n} operand(s)"))
}

fn expected(what: &str, got: &Expr) -> Cql2Error {
    Cql2Error::Invalid(format!("expected {what}, got {}", describe(got)))
}

fn describe(e: &Expr) -> String {
    e.to_text().unwrap_or_else(|_| format!("{e:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_crs(_: &mut Geometry<f64>) -> Result<(), FilterCrsError> {
        Ok(())
    }

    fn parse(layer: Layer, s: &str) -> Result<Cql2Filter, Cql2Error> {
        Cql2Filter::parse(layer, s, FilterLang::Text, &no_crs)
    }

    #[test]
    fn like_patterns() {
        assert!(like("Scierie du Nord", "Scierie%"));
        assert!(like("Scierie du Nord", "%du%"));
        assert!(like("abc", "a_c"));
        assert!(!like("abc", "a_"));
        assert!(like("50%", "50\\%"));
        assert!(!like("500", "50\\%"));
        assert!(like("", "%"));
    }

    #[test]
    fn comparisons_become_grammar_conditions() {
        let f = parse(Layer::Plots, "area_ha > 5 AND status = 'available'").unwrap();
        let Predicate::All(ps) = f.predicate() else {
            panic!("{f:?}")
        };
        let expected = Filter::parse(
            Layer::Plots,
            &[("area_ha".into(), "5.000000000000001..".into())],
            &[],
        )
        .unwrap();
        assert_eq!(ps[0], Predicate::Cond(expected.conditions()[0].clone()));
    }

    #[test]
    fn errors_say_where_and_what() {
        let e = parse(Layer::Plots, "status = ").unwrap_err();
        assert!(matches!(e, Cql2Error::Syntax { line: 1, .. }), "{e}");
        let e = parse(Layer::Plots, "colour = 'red'").unwrap_err();
        assert!(e.to_string().contains("filterable fields are"), "{e}");
        let e = parse(Layer::Plots, "status = 'gone'").unwrap_err();
        assert!(e.to_string().contains("valid values are"), "{e}");
        let e = parse(Layer::Plots, "area_ha = 'big'").unwrap_err();
        assert!(e.to_string().contains("must be a number"), "{e}");
        let e = parse(Layer::Plots, "area_ha + 1 > 5").unwrap_err();
        assert!(matches!(e, Cql2Error::Invalid(_)), "{e}");
    }

    #[test]
    fn antimeridian_box_is_split() {
        let g = bbox_geometry([170.0, 49.0, -170.0, 50.0]);
        assert!(matches!(g, Geometry::MultiPolygon(ref m) if m.0.len() == 2));
    }
}

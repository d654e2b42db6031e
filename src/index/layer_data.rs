//! One layer in memory: an R-tree of small entries (row + envelope) and the attributes held
//! column by column beside it, as rstar's `GeomWithData` suggests. Immutable once built.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use chrono::NaiveDate;
use geo::BoundingRect;
use geo_types::{Geometry, Rect};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};
use serde_json::{Map, Value as Json};

use crate::model::{Feature, FeatureId, FieldType, Layer, LayerSchema, Value, schema};

/// R-tree entry: the feature's lon/lat envelope and its row in the layer's arrays.
pub type Entry = GeomWithData<Rectangle<[f64; 2]>, u32>;

/// Text values with each distinct string stored once: French open data repeats the same
/// codes, producers and communes over millions of rows (interning cut the resident memory of
/// the 1M-deposit data set by about half).
#[derive(Debug, Clone, Default)]
pub struct TextColumn {
    dict: Vec<Box<str>>,
    /// Index into `dict`; `u32::MAX` is null.
    codes: Vec<u32>,
}

impl TextColumn {
    const NULL: u32 = u32::MAX;

    /// The text at a row.
    #[inline]
    pub fn get(&self, row: usize) -> Option<&str> {
        match self.codes[row] {
            Self::NULL => None,
            c => Some(&self.dict[c as usize]),
        }
    }

    /// Number of distinct values.
    pub fn distinct(&self) -> usize {
        self.dict.len()
    }
}

/// Values of one field for every row.
#[derive(Debug, Clone)]
pub enum Column {
    Bool(Vec<Option<bool>>),
    Int(Vec<Option<i64>>),
    Float(Vec<Option<f64>>),
    Text(TextColumn),
    /// Index into the field's variant list.
    Enum(Vec<Option<u8>>),
    Date(Vec<Option<NaiveDate>>),
    Counts(Vec<Option<Box<BTreeMap<String, f64>>>>),
}

/// A borrowed value of one cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueRef<'a> {
    Bool(bool),
    Int(i64),
    Float(f64),
    /// Text and enum values.
    Text(&'a str),
    Date(NaiveDate),
    Counts(&'a BTreeMap<String, f64>),
}

impl ValueRef<'_> {
    /// The owned value.
    pub fn to_value(self) -> Value {
        match self {
            ValueRef::Bool(b) => Value::Bool(b),
            ValueRef::Int(i) => Value::Int(i),
            ValueRef::Float(f) => Value::Float(f),
            ValueRef::Text(s) => Value::Text(s.to_string()),
            ValueRef::Date(d) => Value::Date(d),
            ValueRef::Counts(m) => Value::Counts(m.clone()),
        }
    }

    /// Numeric view of ints and floats.
    pub fn as_f64(self) -> Option<f64> {
        match self {
            ValueRef::Int(i) => Some(i as f64),
            ValueRef::Float(f) => Some(f),
            _ => None,
        }
    }
}

impl Column {
    fn new(ty: FieldType, capacity: usize) -> Column {
        match ty {
            FieldType::Bool => Column::Bool(Vec::with_capacity(capacity)),
            FieldType::Int => Column::Int(Vec::with_capacity(capacity)),
            FieldType::Float => Column::Float(Vec::with_capacity(capacity)),
            FieldType::Text(_) => Column::Text(TextColumn {
                dict: Vec::new(),
                codes: Vec::with_capacity(capacity),
            }),
            FieldType::Enum(_) => Column::Enum(Vec::with_capacity(capacity)),
            FieldType::Date => Column::Date(Vec::with_capacity(capacity)),
            FieldType::Counts => Column::Counts(Vec::with_capacity(capacity)),
        }
    }

    /// The value at a row, if not null.
    pub fn get(&self, ty: FieldType, row: usize) -> Option<ValueRef<'_>> {
        match self {
            Column::Bool(c) => c[row].map(ValueRef::Bool),
            Column::Int(c) => c[row].map(ValueRef::Int),
            Column::Float(c) => c[row].map(ValueRef::Float),
            Column::Text(c) => c.get(row).map(ValueRef::Text),
            Column::Enum(c) => match (c[row], ty) {
                (Some(i), FieldType::Enum(variants)) => {
                    variants.get(usize::from(i)).map(|s| ValueRef::Text(s))
                }
                _ => None,
            },
            Column::Date(c) => c[row].map(ValueRef::Date),
            Column::Counts(c) => c[row].as_deref().map(ValueRef::Counts),
        }
    }
}

/// Builds a [`LayerData`] feature by feature, without holding the features in row form.
/// A feature whose id was pushed before replaces the earlier one.
#[derive(Debug)]
pub struct LayerBuilder {
    layer: Layer,
    schema: &'static LayerSchema,
    ids: Vec<FeatureId>,
    versions: Vec<u64>,
    geometries: Vec<Geometry<f64>>,
    columns: Vec<Column>,
    extra: Vec<Option<Box<Map<String, Json>>>>,
    by_id: HashMap<FeatureId, u32>,
    /// Per text column (by field position): string → dictionary code.
    interners: Vec<HashMap<Box<str>, u32>>,
}

impl LayerBuilder {
    pub fn new(layer: Layer, capacity: usize) -> LayerBuilder {
        let schema = schema(layer);
        LayerBuilder {
            layer,
            schema,
            ids: Vec::with_capacity(capacity),
            versions: Vec::with_capacity(capacity),
            geometries: Vec::with_capacity(capacity),
            columns: schema
                .fields
                .iter()
                .map(|f| Column::new(f.ty, capacity))
                .collect(),
            extra: Vec::with_capacity(capacity),
            by_id: HashMap::with_capacity(capacity),
            interners: schema.fields.iter().map(|_| HashMap::new()).collect(),
        }
    }

    /// Number of distinct features so far.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Adds a feature, or replaces the one with the same id.
    pub fn push(&mut self, f: Feature) {
        let row = match self.by_id.get(&f.id) {
            Some(&row) => Some(row as usize),
            None => {
                self.by_id.insert(f.id, self.ids.len() as u32);
                None
            }
        };
        let extra = (!f.extra.is_empty()).then(|| Box::new(f.extra));
        match row {
            Some(r) => {
                self.versions[r] = f.version;
                self.geometries[r] = f.geometry;
                self.extra[r] = extra;
            }
            None => {
                self.ids.push(f.id);
                self.versions.push(f.version);
                self.geometries.push(f.geometry);
                self.extra.push(extra);
            }
        }
        let mut props = f.props.into_iter();
        for i in 0..self.columns.len() {
            let v = props.next().flatten();
            self.put(i, row, v);
        }
    }

    /// Sets a cell: appends when `row` is None, else overwrites. A value of the wrong shape
    /// (which validation prevents) is stored as null.
    fn put(&mut self, field: usize, row: Option<usize>, v: Option<Value>) {
        fn set<T>(col: &mut Vec<T>, row: Option<usize>, v: T) {
            match row {
                Some(r) => col[r] = v,
                None => col.push(v),
            }
        }
        let ty = self.schema.fields[field].ty;
        match &mut self.columns[field] {
            Column::Bool(c) => set(
                c,
                row,
                match v {
                    Some(Value::Bool(b)) => Some(b),
                    _ => None,
                },
            ),
            Column::Int(c) => set(
                c,
                row,
                match v {
                    Some(Value::Int(i)) => Some(i),
                    _ => None,
                },
            ),
            Column::Float(c) => set(
                c,
                row,
                match v {
                    Some(Value::Float(f)) => Some(f),
                    Some(Value::Int(i)) => Some(i as f64),
                    _ => None,
                },
            ),
            Column::Text(c) => {
                let code = match v {
                    Some(Value::Text(s)) => {
                        let interner = &mut self.interners[field];
                        match interner.get(s.as_str()) {
                            Some(&code) => code,
                            None => {
                                let code = c.dict.len() as u32;
                                let s = s.into_boxed_str();
                                c.dict.push(s.clone());
                                interner.insert(s, code);
                                code
                            }
                        }
                    }
                    _ => TextColumn::NULL,
                };
                set(&mut c.codes, row, code);
            }
            Column::Enum(c) => set(
                c,
                row,
                match (v, ty) {
                    (Some(Value::Text(s)), FieldType::Enum(variants)) => variants
                        .iter()
                        .position(|x| *x == s)
                        .and_then(|i| u8::try_from(i).ok()),
                    _ => None,
                },
            ),
            Column::Date(c) => set(
                c,
                row,
                match v {
                    Some(Value::Date(d)) => Some(d),
                    _ => None,
                },
            ),
            Column::Counts(c) => set(
                c,
                row,
                match v {
                    Some(Value::Counts(m)) => Some(Box::new(m)),
                    _ => None,
                },
            ),
        }
    }

    /// Bulk-loads the R-tree and freezes the layer.
    ///
    /// Rows keep their input order. Layers loaded from the store arrive in the Hilbert-curve
    /// order the FlatGeobuf writer gives its packed R-tree, so features near each other on the
    /// ground are already near each other in the columns (a spatial query reads a few cache
    /// lines of each column instead of one per candidate).
    pub fn finish(self) -> LayerData {
        let n = self.ids.len();
        let mut bounds: Option<Rect<f64>> = None;
        let entries: Vec<Entry> = self
            .geometries
            .iter()
            .enumerate()
            .filter_map(|(row, g)| {
                let r = g.bounding_rect()?;
                bounds = Some(match bounds {
                    None => r,
                    Some(b) => Rect::new(
                        geo_types::coord! { x: b.min().x.min(r.min().x), y: b.min().y.min(r.min().y) },
                        geo_types::coord! { x: b.max().x.max(r.max().x), y: b.max().y.max(r.max().y) },
                    ),
                });
                Some(Entry::new(
                    Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                    row as u32,
                ))
            })
            .collect();
        LayerData {
            layer: self.layer,
            schema: self.schema,
            ids: self.ids,
            versions: self.versions,
            geometries: self.geometries,
            columns: self.columns,
            extra: self.extra,
            by_id: self.by_id,
            text: (0..n).map(|_| OnceLock::new()).collect(),
            rtree: RTree::bulk_load(entries),
            bounds,
        }
    }
}

/// One layer's features, indexed.
#[derive(Debug, Clone)]
pub struct LayerData {
    layer: Layer,
    schema: &'static LayerSchema,
    ids: Vec<FeatureId>,
    versions: Vec<u64>,
    geometries: Vec<Geometry<f64>>,
    columns: Vec<Column>,
    extra: Vec<Option<Box<Map<String, Json>>>>,
    by_id: HashMap<FeatureId, u32>,
    rtree: RTree<Entry>,
    bounds: Option<Rect<f64>>,
    /// Each row's GeoJSON Feature as JSON text, serialised on first use: search responses copy
    /// it instead of rebuilding a `serde_json::Value` per feature and request.
    text: Vec<OnceLock<Box<str>>>,
}

impl LayerData {
    /// An empty layer.
    pub fn empty(layer: Layer) -> LayerData {
        LayerBuilder::new(layer, 0).finish()
    }

    /// Builds the columns and bulk-loads the R-tree. Features must have valid geometries (the
    /// importer sees to it); a later duplicate id replaces an earlier one.
    pub fn build(layer: Layer, features: Vec<Feature>) -> LayerData {
        let mut b = LayerBuilder::new(layer, features.len());
        for f in features {
            b.push(f);
        }
        b.finish()
    }

    pub fn layer(&self) -> Layer {
        self.layer
    }

    pub fn schema(&self) -> &'static LayerSchema {
        self.schema
    }

    /// Number of features.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The R-tree of (envelope, row) entries.
    pub fn rtree(&self) -> &RTree<Entry> {
        &self.rtree
    }

    /// Bounding box of all features, if any.
    pub fn bounds(&self) -> Option<Rect<f64>> {
        self.bounds
    }

    /// Row of a feature id.
    pub fn row_of(&self, id: FeatureId) -> Option<u32> {
        self.by_id.get(&id).copied()
    }

    pub fn id(&self, row: u32) -> FeatureId {
        self.ids[row as usize]
    }

    pub fn ids(&self) -> &[FeatureId] {
        &self.ids
    }

    pub fn version(&self, row: u32) -> u64 {
        self.versions[row as usize]
    }

    pub fn geometry(&self, row: u32) -> &Geometry<f64> {
        &self.geometries[row as usize]
    }

    pub fn geometries(&self) -> &[Geometry<f64>] {
        &self.geometries
    }

    /// The column of a field, by position in the schema.
    pub fn column(&self, field: usize) -> &Column {
        &self.columns[field]
    }

    /// The value of a field at a row, by field position.
    pub fn value(&self, row: u32, field: usize) -> Option<ValueRef<'_>> {
        self.columns[field].get(self.schema.fields[field].ty, row as usize)
    }

    /// The value of a named field at a row (None also for an unknown name).
    pub fn value_by_name(&self, row: u32, name: &str) -> Option<ValueRef<'_>> {
        let (i, _) = self.schema.field(name)?;
        self.value(row, i)
    }

    /// Extra (non-schema) properties of a row.
    pub fn extra(&self, row: u32) -> Option<&Map<String, Json>> {
        self.extra[row as usize].as_deref()
    }

    /// Rows whose envelope intersects a lon/lat box `[min_lon, min_lat, max_lon, max_lat]`.
    pub fn rows_in_envelope(&self, bbox: [f64; 4]) -> impl Iterator<Item = u32> + '_ {
        let aabb = AABB::from_corners([bbox[0], bbox[1]], [bbox[2], bbox[3]]);
        self.rtree
            .locate_in_envelope_intersecting(&aabb)
            .map(|e| e.data)
    }

    /// The feature at a row, in row form.
    pub fn feature(&self, row: u32) -> Feature {
        let r = row as usize;
        Feature {
            id: self.ids[r],
            version: self.versions[r],
            geometry: self.geometries[r].clone(),
            props: (0..self.columns.len())
                .map(|i| self.value(row, i).map(ValueRef::to_value))
                .collect(),
            extra: self.extra[r].as_deref().cloned().unwrap_or_default(),
        }
    }

    /// Every feature in row form, in row order.
    pub fn features(&self) -> impl Iterator<Item = Feature> + '_ {
        (0..self.len() as u32).map(|r| self.feature(r))
    }

    /// GeoJSON properties of a row: typed fields, then extras.
    pub fn properties_json(&self, row: u32) -> Map<String, Json> {
        let mut out = Map::new();
        for (i, f) in self.schema.fields.iter().enumerate() {
            if let Some(v) = self.value(row, i) {
                out.insert(f.name.to_string(), v.to_value().to_json());
            }
        }
        if let Some(extra) = self.extra(row) {
            for (k, v) in extra {
                out.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        out
    }

    /// The GeoJSON Feature of a row as JSON text, the same as [`LayerData::feature_json`];
    /// serialised once, then cached for the life of the snapshot. It ends with `}}` (the end of
    /// `properties`, then of the feature), so a caller may append properties before those two
    /// bytes.
    pub fn feature_text(&self, row: u32) -> &str {
        self.text[row as usize].get_or_init(|| {
            // Serialising a `Value` cannot fail: its map keys are strings.
            serde_json::to_string(&self.feature_json(row))
                .unwrap_or_default()
                .into_boxed_str()
        })
    }

    /// A GeoJSON Feature for a row.
    pub fn feature_json(&self, row: u32) -> Json {
        let mut f = Map::new();
        f.insert("type".into(), Json::from("Feature"));
        f.insert("id".into(), Json::from(self.id(row)));
        f.insert(
            "geometry".into(),
            crate::model::geometry_to_json(self.geometry(row)),
        );
        f.insert("properties".into(), Json::Object(self.properties_json(row)));
        Json::Object(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::point;

    fn deposit(id: u64, lon: f64, lat: f64, material: &str, q: f64) -> Feature {
        let s = schema(Layer::WasteDeposits);
        let mut props = vec![None; s.fields.len()];
        props[s.index_of("material")] = Some(Value::Text(material.into()));
        props[s.index_of("quantity")] = Some(Value::Float(q));
        Feature {
            id,
            version: 1,
            geometry: Geometry::Point(point!(x: lon, y: lat)),
            props,
            extra: Map::new(),
        }
    }

    #[test]
    fn columns_round_trip_and_index_finds_rows() {
        let feats = vec![
            deposit(1, 0.1, 49.5, "wood", 10.0),
            deposit(2, 0.2, 49.6, "heat", 5.5),
            deposit(1, 0.3, 49.7, "glass", 1.0), // replaces id 1
        ];
        let data = LayerData::build(Layer::WasteDeposits, feats.clone());
        assert_eq!(data.len(), 2);
        let r1 = data.row_of(1).unwrap();
        assert_eq!(data.feature(r1), feats[2]);
        assert_eq!(data.feature(data.row_of(2).unwrap()), feats[1]);
        let rows: Vec<u32> = data.rows_in_envelope([0.15, 49.55, 0.25, 49.65]).collect();
        assert_eq!(rows, vec![data.row_of(2).unwrap()]);
        assert_eq!(
            data.value_by_name(r1, "material"),
            Some(ValueRef::Text("glass"))
        );
        let b = data.bounds().unwrap();
        assert_eq!((b.min().x, b.max().y), (0.2, 49.7));
    }
}

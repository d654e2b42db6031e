//! One layer in memory: an R-tree forest of small entries (row + envelope) and the attributes
//! held column by column beside it, as rstar's `GeomWithData` suggests. Immutable once built;
//! a change makes a new layer that shares everything it does not touch with the old one: every
//! per-row array is a [`Chunked`] vector, the id map a persistent `imbl::HashMap`, the index a
//! [`Forest`], so one feature put or deleted costs a few chunks and trees, not the layer.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use chrono::NaiveDate;
use geo::BoundingRect;
use geo_types::{Geometry, Rect};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, Envelope};
use serde_json::{Map, Value as Json};

use super::source_attrs::SourceAttrsCache;
use super::visibility::{Extents, ExtentsUpdate};
use super::{Chunked, Forest};
use crate::model::{Feature, FeatureId, FieldType, Layer, LayerSchema, Value, schema};

/// R-tree entry: the feature's lon/lat envelope and its row in the layer's arrays.
pub type Entry = GeomWithData<Rectangle<[f64; 2]>, u32>;

/// Text values with each distinct string stored once: French open data repeats the same
/// codes, producers and communes over millions of rows (interning cut the resident memory of
/// the 1M-deposit data set by about half).
///
/// The dictionary is chunked too, of `Arc<str>`: an edit that adds a string copies (pointer
/// bumps) at most the dictionary's last chunk, never the whole dictionary.
#[derive(Debug, Clone, Default)]
pub struct TextColumn {
    dict: Chunked<Arc<str>>,
    /// Index into `dict`; `u32::MAX` is null.
    codes: Chunked<u32>,
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

    /// The dictionary codes of every row (`u32::MAX` for null), chunk by chunk: for scans.
    pub fn codes(&self) -> &Chunked<u32> {
        &self.codes
    }

    /// The text of a dictionary code (None for null or an unknown code).
    pub fn text_of(&self, code: u32) -> Option<&str> {
        ((code as usize) < self.dict.len()).then(|| &*self.dict[code as usize])
    }

    /// Number of distinct values.
    pub fn distinct(&self) -> usize {
        self.dict.len()
    }
}

/// Values of one field for every row, chunked (see [`Chunked`]).
#[derive(Debug, Clone)]
pub enum Column {
    Bool(Chunked<Option<bool>>),
    Int(Chunked<Option<i64>>),
    Float(Chunked<Option<f64>>),
    Text(TextColumn),
    /// Index into the field's variant list.
    Enum(Chunked<Option<u8>>),
    Date(Chunked<Option<NaiveDate>>),
    /// `Arc` so that copying a chunk bumps counts instead of copying maps.
    Counts(Chunked<Option<Arc<BTreeMap<String, f64>>>>),
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
    fn new(ty: FieldType) -> Column {
        match ty {
            FieldType::Bool => Column::Bool(Chunked::new()),
            FieldType::Int => Column::Int(Chunked::new()),
            FieldType::Float => Column::Float(Chunked::new()),
            FieldType::Text(_) => Column::Text(TextColumn::default()),
            FieldType::Enum(_) => Column::Enum(Chunked::new()),
            FieldType::Date => Column::Date(Chunked::new()),
            FieldType::Counts => Column::Counts(Chunked::new()),
        }
    }

    /// Removes a row, the last row taking its place.
    fn swap_remove(&mut self, row: usize) {
        match self {
            Column::Bool(c) => drop(c.swap_remove(row)),
            Column::Int(c) => drop(c.swap_remove(row)),
            Column::Float(c) => drop(c.swap_remove(row)),
            Column::Text(c) => drop(c.codes.swap_remove(row)),
            Column::Enum(c) => drop(c.swap_remove(row)),
            Column::Date(c) => drop(c.swap_remove(row)),
            Column::Counts(c) => drop(c.swap_remove(row)),
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
    ids: Chunked<FeatureId>,
    versions: Chunked<u64>,
    geometries: Chunked<Geometry<f64>>,
    columns: Vec<Column>,
    extra: Chunked<Option<Arc<Map<String, Json>>>>,
    by_id: HashMap<FeatureId, u32>,
    /// Per text column (by field position): string → dictionary code.
    interners: Vec<HashMap<Arc<str>, u32>>,
}

impl LayerBuilder {
    pub fn new(layer: Layer, capacity: usize) -> LayerBuilder {
        let schema = schema(layer);
        LayerBuilder {
            layer,
            schema,
            ids: Chunked::new(),
            versions: Chunked::new(),
            geometries: Chunked::new(),
            columns: schema.fields.iter().map(|f| Column::new(f.ty)).collect(),
            extra: Chunked::new(),
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
        let extra = (!f.extra.is_empty()).then(|| Arc::new(f.extra));
        match row {
            Some(r) => {
                self.versions.set(r, f.version);
                self.geometries.set(r, f.geometry);
                self.extra.set(r, extra);
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

    /// Sets a cell: appends when `row` is None, else overwrites.
    fn put(&mut self, field: usize, row: Option<usize>, v: Option<Value>) {
        let ty = self.schema.fields[field].ty;
        put_cell(
            &mut self.columns[field],
            ty,
            row,
            v,
            Some(&mut self.interners[field]),
        );
    }

    /// Bulk-loads the R-tree forest and freezes the layer.
    ///
    /// Rows keep their input order. Layers loaded from the store arrive in the Hilbert-curve
    /// order the FlatGeobuf writer gives its packed R-tree, so features near each other on the
    /// ground are already near each other in the columns (a spatial query reads a few cache
    /// lines of each column instead of one per candidate).
    pub fn finish(self) -> LayerData {
        let n = self.ids.len();
        let entries: Vec<Entry> = self
            .geometries
            .iter()
            .enumerate()
            .filter_map(|(row, g)| LayerData::entry(g, row as u32))
            .collect();
        let mut data = LayerData {
            layer: self.layer,
            schema: self.schema,
            ids: self.ids,
            versions: self.versions,
            geometries: self.geometries,
            columns: self.columns,
            extra: self.extra,
            by_id: self.by_id.into_iter().collect(),
            text: (0..n).map(|_| OnceLock::new()).collect(),
            forest: Forest::bulk_load(entries),
            extents: Extents::default(),
            serial: next_serial(),
            history: None,
            source_attrs: SourceAttrsCache::default(),
        };
        data.extents = Extents::of(&data);
        data
    }
}

/// Sets a cell of a column: appends when `row` is None, else overwrites. A value of the wrong
/// shape (which validation prevents) is stored as null. Text goes through `interner` when the
/// caller has one (bulk builds); without one (edits of a built layer) a text equal to the
/// cell's current value or to the newest dictionary entry reuses its code, and any other text
/// is appended to the dictionary (a rebuild at the next start interns it again).
fn put_cell(
    column: &mut Column,
    ty: FieldType,
    row: Option<usize>,
    v: Option<Value>,
    interner: Option<&mut HashMap<Arc<str>, u32>>,
) {
    match column {
        Column::Bool(c) => set_cell(
            c,
            row,
            v.and_then(|v| match v {
                Value::Bool(b) => Some(b),
                _ => None,
            }),
        ),
        Column::Int(c) => set_cell(
            c,
            row,
            v.and_then(|v| match v {
                Value::Int(i) => Some(i),
                _ => None,
            }),
        ),
        Column::Float(c) => set_cell(
            c,
            row,
            v.and_then(|v| match v {
                Value::Float(f) => Some(f),
                Value::Int(i) => Some(i as f64),
                _ => None,
            }),
        ),
        Column::Text(c) => {
            let code = match v {
                Some(Value::Text(s)) => match interner {
                    Some(interner) => interned_code(c, interner, s),
                    None => edited_code(c, row, s),
                },
                _ => TextColumn::NULL,
            };
            set_cell(&mut c.codes, row, code);
        }
        Column::Enum(c) => set_cell(c, row, enum_code(v, ty)),
        Column::Date(c) => set_cell(
            c,
            row,
            v.and_then(|v| match v {
                Value::Date(d) => Some(d),
                _ => None,
            }),
        ),
        Column::Counts(c) => set_cell(
            c,
            row,
            v.and_then(|v| match v {
                Value::Counts(m) => Some(Arc::new(m)),
                _ => None,
            }),
        ),
    }
}

/// Appends `v` when `row` is None, else overwrites that row.
fn set_cell<T: Clone>(col: &mut Chunked<T>, row: Option<usize>, v: T) {
    match row {
        Some(r) => col.set(r, v),
        None => col.push(v),
    }
}

/// The code of a text in a bulk build: the interner's, or a new dictionary entry.
fn interned_code(c: &mut TextColumn, interner: &mut HashMap<Arc<str>, u32>, s: String) -> u32 {
    if let Some(&code) = interner.get(s.as_str()) {
        return code;
    }
    let code = c.dict.len() as u32;
    let s: Arc<str> = Arc::from(s);
    c.dict.push(s.clone());
    interner.insert(s, code);
    code
}

/// The code of a text in an edit of a built layer: the cell's current one or the newest
/// dictionary entry when equal, else a new dictionary entry.
fn edited_code(c: &mut TextColumn, row: Option<usize>, s: String) -> u32 {
    let current = row.map_or(TextColumn::NULL, |r| c.codes[r]);
    let newest = c.dict.len().checked_sub(1);
    if current != TextColumn::NULL && *c.dict[current as usize] == *s {
        current
    } else if newest.is_some_and(|n| *c.dict[n] == *s) {
        newest.unwrap_or_default() as u32
    } else {
        c.dict.push(Arc::from(s));
        (c.dict.len() - 1) as u32
    }
}

/// The index of an enum value among its field's variants (None for anything else).
fn enum_code(v: Option<Value>, ty: FieldType) -> Option<u8> {
    match (v, ty) {
        (Some(Value::Text(s)), FieldType::Enum(variants)) => variants
            .iter()
            .position(|x| *x == s)
            .and_then(|i| u8::try_from(i).ok()),
        _ => None,
    }
}

/// One layer's features, indexed. Cloning costs one pointer per chunk of each array and per
/// tree of the forest (a few thousand pointers for a million rows).
#[derive(Debug, Clone)]
pub struct LayerData {
    layer: Layer,
    schema: &'static LayerSchema,
    ids: Chunked<FeatureId>,
    versions: Chunked<u64>,
    geometries: Chunked<Geometry<f64>>,
    columns: Vec<Column>,
    extra: Chunked<Option<Arc<Map<String, Json>>>>,
    /// Persistent (HAMT): a copy is O(1) and an update copies one path, where a
    /// `std::collections::HashMap` copy costs every entry (see `benches/live_index.rs`).
    by_id: imbl::HashMap<FeatureId, u32>,
    forest: Forest<Entry>,
    /// Count and bounds of every row and of the public rows (`Visibility::extent`).
    extents: Extents,
    /// Each row's GeoJSON Feature as JSON text, serialised on first use: search responses copy
    /// it instead of rebuilding a `serde_json::Value` per feature and request.
    ///
    /// `Arc` so that the copy an edit makes shares the cached texts instead of copying them.
    text: Chunked<OnceLock<Arc<str>>>,
    /// Unique among every `LayerData` this process made (see [`LayerData::serial`]).
    serial: u64,
    /// How this layer was made from earlier ones, newest step first.
    history: Option<Arc<Step>>,
    /// The source attributes inferred from `extra`: on first use, or kept through a change.
    source_attrs: SourceAttrsCache,
}

/// The rows of a layer that may differ from an earlier layer of the same lineage, row by row
/// (see [`LayerData::changes_since`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowChanges {
    /// Rows of the earlier layer.
    pub old_len: usize,
    /// Rows of this layer.
    pub new_len: usize,
    /// Rows below `new_len` whose content may differ from the earlier layer's row of the same
    /// number (changed, appended, or filled by a swap-remove), ascending. Rows
    /// `new_len..old_len` are gone. Every other row is the same feature, unchanged.
    pub rows: Vec<u32>,
}

impl RowChanges {
    /// Old rows whose contribution a derived structure must take out: the changed rows that
    /// existed, then the rows past the new end.
    pub fn removed_or_changed(&self) -> impl Iterator<Item = u32> + '_ {
        self.rows
            .iter()
            .copied()
            .filter(|r| (*r as usize) < self.old_len)
            .chain(self.new_len as u32..self.old_len.max(self.new_len) as u32)
    }
}

/// One `with_changes` step of a layer's lineage.
#[derive(Debug)]
struct Step {
    parent: u64,
    old_len: usize,
    new_len: usize,
    rows: Box<[u32]>,
    prev: Option<Arc<Step>>,
    /// Steps in this chain, this one included.
    depth: usize,
    /// Rows summed over the chain.
    total_rows: usize,
}

/// A lineage keeps at most this many steps and rows; past either, derived structures older
/// than the kept steps rebuild from scratch (which the change already cost as many rows).
const HISTORY_STEPS: usize = 1024;
const HISTORY_ROWS: usize = 1 << 18;

fn next_serial() -> u64 {
    static SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

impl LayerData {
    /// A number no other `LayerData` of this process has: the key under which derived
    /// structures (tile preparation, road snaps) remember which layer they were made from.
    pub fn serial(&self) -> u64 {
        self.serial
    }

    /// What changed, row by row, since the layer of serial `since`, when this layer was made
    /// from it by [`LayerData::with_changes`] (directly or through recent steps); `None` when
    /// it was not, or too long ago: rebuild from scratch then.
    pub fn changes_since(&self, since: u64) -> Option<RowChanges> {
        if since == self.serial {
            return Some(RowChanges {
                old_len: self.len(),
                new_len: self.len(),
                rows: Vec::new(),
            });
        }
        let mut rows: Vec<u32> = Vec::new();
        let mut step = self.history.as_deref();
        while let Some(s) = step {
            rows.extend(s.rows.iter().copied());
            if s.parent == since {
                let new_len = self.len();
                rows.retain(|r| (*r as usize) < new_len);
                rows.sort_unstable();
                rows.dedup();
                return Some(RowChanges {
                    old_len: s.old_len,
                    new_len,
                    rows,
                });
            }
            step = s.prev.as_deref();
        }
        None
    }

    /// Records a step from `parent` (of `old_len` rows) touching `rows`.
    fn record_step(&mut self, parent: &LayerData, mut rows: Vec<u32>) {
        rows.sort_unstable();
        rows.dedup();
        let prev = parent
            .history
            .clone()
            .filter(|p| p.depth < HISTORY_STEPS && p.total_rows + rows.len() <= HISTORY_ROWS);
        let (depth, total) = prev.as_deref().map_or((0, 0), |p| (p.depth, p.total_rows));
        self.serial = next_serial();
        self.history = Some(Arc::new(Step {
            parent: parent.serial,
            old_len: parent.len(),
            new_len: self.len(),
            depth: depth + 1,
            total_rows: total + rows.len(),
            rows: rows.into_boxed_slice(),
            prev,
        }));
        debug_assert!(
            self.history
                .as_ref()
                .is_some_and(|h| h.new_len == self.len())
        );
    }

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

    /// A new layer with some features put (added, or replacing those of the same id) and some
    /// deleted (a delete wins over a put of the same id). This layer is left as it is: readers
    /// of the current snapshot are not disturbed.
    ///
    /// Cost: O(change). The copy shares every chunk, tree and map node with this layer; each
    /// change then copies the chunks of the rows it touches, the forest's tree of its entry,
    /// one path of the id map, and adjusts the extents (see [`ExtentsUpdate`]). Rows are not
    /// renumbered except that a deleted row takes the last row (swap remove), so only the
    /// changed entries move in the forest. Row order is therefore not the order of
    /// [`LayerData::build`]'s input after changes.
    pub fn with_changes(
        &self,
        puts: impl IntoIterator<Item = Feature>,
        deletes: &[FeatureId],
    ) -> LayerData {
        let mut next = self.clone();
        let mut extents = ExtentsUpdate::new(self);
        let mut attrs = self.source_attrs.update();
        let mut rows = Vec::new();
        for f in puts {
            if let Some(row) = next.row_of(f.id) {
                extents.take_out(&next, row);
                attrs.take_out(&next, row);
            }
            let row = next.put(f);
            extents.put_in(&next, row);
            attrs.put_in(&next, row);
            rows.push(row);
        }
        for id in deletes {
            if let Some(row) = next.row_of(*id) {
                extents.take_out(&next, row);
                attrs.take_out(&next, row);
            }
            rows.extend(next.delete(*id));
        }
        next.extents = extents.finish(&next);
        next.source_attrs = attrs.finish();
        next.record_step(self, rows);
        next
    }

    pub(super) fn entry(g: &Geometry<f64>, row: u32) -> Option<Entry> {
        g.bounding_rect().map(|r| {
            Entry::new(
                Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                row,
            )
        })
    }

    /// Sets a row's cells from a feature (the row exists).
    fn set_row(&mut self, row: usize, f: Feature) {
        self.ids.set(row, f.id);
        self.versions.set(row, f.version);
        self.geometries.set(row, f.geometry);
        self.extra
            .set(row, (!f.extra.is_empty()).then(|| Arc::new(f.extra)));
        let mut props = f.props.into_iter();
        for (col, field) in self.columns.iter_mut().zip(self.schema.fields) {
            put_cell(col, field.ty, Some(row), props.next().flatten(), None);
        }
        self.text.set(row, OnceLock::new());
    }

    /// Puts a feature; its row.
    fn put(&mut self, f: Feature) -> u32 {
        match self.by_id.get(&f.id).copied() {
            Some(row) => {
                let old_entry = Self::entry(&self.geometries[row as usize], row);
                let new_entry = Self::entry(&f.geometry, row);
                self.set_row(row as usize, f);
                if old_entry != new_entry {
                    if let Some(e) = old_entry {
                        self.forest.remove(&e);
                    }
                    if let Some(e) = new_entry {
                        self.forest.insert(e);
                    }
                }
                row
            }
            None => {
                let row = self.ids.len() as u32;
                if let Some(e) = Self::entry(&f.geometry, row) {
                    self.forest.insert(e);
                }
                self.by_id.insert(f.id, row);
                self.ids.push(f.id);
                self.versions.push(f.version);
                self.geometries.push(f.geometry);
                let mut props = f.props.into_iter();
                for (col, field) in self.columns.iter_mut().zip(self.schema.fields) {
                    put_cell(col, field.ty, None, props.next().flatten(), None);
                }
                self.text.push(OnceLock::new());
                self.extra
                    .push((!f.extra.is_empty()).then(|| Arc::new(f.extra)));
                row
            }
        }
    }

    /// Deletes a feature; the row it left (which now holds the former last row, unless it was
    /// the last).
    fn delete(&mut self, id: FeatureId) -> Option<u32> {
        let row = self.by_id.remove(&id)?;
        let last = (self.ids.len() - 1) as u32;
        if let Some(e) = Self::entry(&self.geometries[row as usize], row) {
            self.forest.remove(&e);
        }
        if row != last {
            // The last row moves into the hole: its tree entry and id map follow.
            if let Some(e) = Self::entry(&self.geometries[last as usize], last) {
                self.forest.remove(&e);
            }
            if let Some(e) = Self::entry(&self.geometries[last as usize], row) {
                self.forest.insert(e);
            }
            self.by_id.insert(self.ids[last as usize], row);
        }
        let r = row as usize;
        self.ids.swap_remove(r);
        self.versions.swap_remove(r);
        self.geometries.swap_remove(r);
        self.extra.swap_remove(r);
        self.text.swap_remove(r);
        for col in &mut self.columns {
            col.swap_remove(r);
        }
        Some(row)
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

    /// The R-tree forest of (envelope, row) entries.
    pub fn forest(&self) -> &Forest<Entry> {
        &self.forest
    }

    /// Bounding box of every feature, confidential ones included: for the server's own use
    /// (tests, preparation). What a caller is shown comes from `LayerView::extent`.
    pub fn bounds(&self) -> Option<Rect<f64>> {
        self.extents.all_rows().bounds
    }

    pub(super) fn extents(&self) -> &Extents {
        &self.extents
    }

    /// Row of a feature id.
    pub fn row_of(&self, id: FeatureId) -> Option<u32> {
        self.by_id.get(&id).copied()
    }

    pub fn id(&self, row: u32) -> FeatureId {
        self.ids[row as usize]
    }

    pub fn ids(&self) -> &Chunked<FeatureId> {
        &self.ids
    }

    pub fn version(&self, row: u32) -> u64 {
        self.versions[row as usize]
    }

    pub fn geometry(&self, row: u32) -> &Geometry<f64> {
        &self.geometries[row as usize]
    }

    pub fn geometries(&self) -> &Chunked<Geometry<f64>> {
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
    /// The cache of inferred source attributes (read through `LayerView::source_attrs`).
    pub(super) fn source_attrs_cache(&self) -> &SourceAttrsCache {
        &self.source_attrs
    }

    pub fn extra(&self, row: u32) -> Option<&Map<String, Json>> {
        self.extra[row as usize].as_deref()
    }

    /// Rows whose envelope intersects a lon/lat box `[min_lon, min_lat, max_lon, max_lat]`.
    pub fn rows_in_envelope(&self, bbox: [f64; 4]) -> impl Iterator<Item = u32> + '_ {
        let aabb = AABB::from_corners([bbox[0], bbox[1]], [bbox[2], bbox[3]]);
        self.entries_in_envelope(aabb).map(|e| e.data)
    }

    /// Forest entries whose envelope intersects `aabb`: trees whose root misses are skipped,
    /// then rstar's query runs on the rest (`Forest::locate_in_envelope_intersecting` with an
    /// envelope the iterator owns).
    pub fn entries_in_envelope(&self, aabb: AABB<[f64; 2]>) -> impl Iterator<Item = &Entry> + '_ {
        self.forest
            .trees()
            .filter(move |t| t.root().envelope().intersects(&aabb))
            .flat_map(move |t| t.locate_in_envelope_intersecting(&aabb))
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
                .into()
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

    /// Rows outside `changes_since` are the same feature as the earlier layer's row of that
    /// number (the oracle: compare every row), through chained steps and swap-removes.
    #[test]
    fn changes_since_names_every_row_that_differs() {
        let first = LayerData::build(
            Layer::WasteDeposits,
            (0..50)
                .map(|i| deposit(i, 0.01 * i as f64, 49.5, "wood", 1.0))
                .collect(),
        );
        let mut layers = vec![first];
        let mut seed = 11u64;
        for step in 0..40u64 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let cur = layers.last().unwrap();
            let puts = (0..(seed % 4))
                .map(|k| {
                    deposit(
                        (seed >> 8) % 70 + k,
                        0.5,
                        49.0 + step as f64 * 0.01,
                        "glass",
                        2.0,
                    )
                })
                .collect::<Vec<_>>();
            let deletes = [(seed >> 20) % 60, (seed >> 30) % 60];
            layers.push(cur.with_changes(puts, &deletes));
        }
        for (i, old) in layers.iter().enumerate() {
            let new = layers.last().unwrap();
            let ch = new.changes_since(old.serial()).expect("same lineage");
            assert_eq!((ch.old_len, ch.new_len), (old.len(), new.len()));
            for r in 0..old.len().min(new.len()) as u32 {
                if ch.rows.binary_search(&r).is_err() {
                    assert_eq!(old.feature(r), new.feature(r), "step {i} row {r}");
                }
            }
        }
        let unrelated = LayerData::empty(Layer::WasteDeposits);
        assert!(layers[3].changes_since(unrelated.serial()).is_none());
        assert!(layers[3].changes_since(layers[5].serial()).is_none());
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

    #[test]
    fn with_changes_puts_and_deletes() {
        let data = LayerData::build(
            Layer::WasteDeposits,
            vec![
                deposit(1, 0.1, 49.5, "wood", 10.0),
                deposit(2, 0.2, 49.6, "heat", 5.5),
                deposit(3, 0.3, 49.7, "glass", 1.0),
            ],
        );
        let mut changed = deposit(2, 0.25, 49.65, "metal", 7.0);
        changed.version = 2;
        let next = data.with_changes(
            vec![changed.clone(), deposit(9, 0.9, 49.9, "wood", 1.0)],
            &[1],
        );
        assert_eq!(data.len(), 3, "the old layer is untouched");
        let mut ids: Vec<u64> = next.ids().iter().copied().collect();
        ids.sort();
        assert_eq!(ids, vec![2, 3, 9]);
        assert_eq!(next.feature(next.row_of(2).unwrap()), changed);
        assert_eq!(next.row_of(1), None);
        let rows: Vec<u32> = next.rows_in_envelope([0.8, 49.8, 1.0, 50.0]).collect();
        assert_eq!(rows, vec![next.row_of(9).unwrap()]);
    }

    /// Random puts and deletes, checked against a bulk load of the same features (the
    /// oracle): same features by id, same bounds, same answers to box queries.
    #[test]
    fn with_changes_agrees_with_a_fresh_build() {
        use rand::{Rng, SeedableRng};
        let seed = 20261126;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut truth: BTreeMap<u64, Feature> = BTreeMap::new();
        let mut data = LayerData::empty(Layer::WasteDeposits);
        for round in 0..40 {
            let mut puts = Vec::new();
            let mut deletes = Vec::new();
            for _ in 0..rng.random_range(1..30) {
                let id = rng.random_range(0..120u64);
                if rng.random_bool(0.3) {
                    deletes.push(id);
                } else {
                    let f = deposit(
                        id,
                        rng.random_range(0.0..1.0),
                        rng.random_range(49.0..50.0),
                        "wood",
                        round as f64,
                    );
                    puts.retain(|p: &Feature| p.id != id);
                    puts.push(f);
                }
            }
            for f in &puts {
                truth.insert(f.id, f.clone());
            }
            for id in &deletes {
                truth.remove(id);
            }
            data = data.with_changes(puts, &deletes);
            let fresh = LayerData::build(Layer::WasteDeposits, truth.values().cloned().collect());
            assert_eq!(data.len(), fresh.len(), "seed {seed} round {round}");
            for (id, f) in &truth {
                let row = data.row_of(*id).expect("present");
                assert_eq!(&data.feature(row), f, "seed {seed} round {round} id {id}");
                assert_eq!(data.id(row), *id);
            }
            assert_eq!(data.bounds(), fresh.bounds(), "seed {seed} round {round}");
            assert_eq!(data.forest().size(), fresh.forest().size());
            for _ in 0..10 {
                let (x, y) = (rng.random_range(0.0..1.0), rng.random_range(49.0..50.0));
                let b = [x, y, x + 0.3, y + 0.3];
                let mut a: Vec<u64> = data.rows_in_envelope(b).map(|r| data.id(r)).collect();
                let mut e: Vec<u64> = fresh.rows_in_envelope(b).map(|r| fresh.id(r)).collect();
                a.sort();
                e.sort();
                assert_eq!(a, e, "seed {seed} round {round} box {b:?}");
            }
        }
    }
}

//! Which rows of a layer a request may see: the rule of `model::Access` read from the columns.
//!
//! Every endpoint that returns, counts or draws rows (single features, search, OGC items,
//! tiles) passes its rows through [`Visibility::row_visible`]; confidential waste deposits are
//! left out for requests without the `partners` right (see `model::Access` for why they are
//! left out rather than blurred).

use super::{LayerData, ValueRef};
use crate::model::{Access, CONFIDENTIAL_LAYER, CONFIDENTIAL_VALUE, CONFIDENTIALITY_FIELD};

/// The visibility rule of one request over one layer. Cheap to build; build it once per
/// request and layer.
///
/// ```
/// use terriens::index::{LayerData, Visibility};
/// use terriens::model::{Access, Layer, Role};
/// let data = LayerData::empty(Layer::WasteDeposits);
/// assert!(!Visibility::new(&Access::ANONYMOUS, &data).sees_all());
/// assert!(Visibility::new(&Access::key(Role::Reader, true), &data).sees_all());
/// let plots = LayerData::empty(Layer::Plots);
/// assert!(Visibility::new(&Access::ANONYMOUS, &plots).sees_all());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Visibility<'a> {
    data: &'a LayerData,
    /// Position of the confidentiality field when some rows may be hidden.
    restricted: Option<usize>,
}

impl<'a> Visibility<'a> {
    pub fn new(access: &Access, data: &'a LayerData) -> Visibility<'a> {
        let restricted = if access.partners() || data.layer() != CONFIDENTIAL_LAYER {
            None
        } else {
            data.schema().field(CONFIDENTIALITY_FIELD).map(|(i, _)| i)
        };
        Visibility { data, restricted }
    }

    /// Whether every row is visible (no per-row check needed).
    pub fn sees_all(&self) -> bool {
        self.restricted.is_none()
    }

    /// Whether the request may see this row.
    pub fn row_visible(&self, row: u32) -> bool {
        match self.restricted {
            None => true,
            Some(field) => self.data.value(row, field) != Some(ValueRef::Text(CONFIDENTIAL_VALUE)),
        }
    }

    /// The visible rows among `rows`.
    pub fn filter<I: IntoIterator<Item = u32>>(
        self,
        rows: I,
    ) -> impl Iterator<Item = u32> + use<'a, I> {
        rows.into_iter().filter(move |&r| self.row_visible(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Feature, Layer, Role, Value, schema};
    use geo_types::{Geometry, point};

    fn deposit(id: u64, conf: &str) -> Feature {
        let s = schema(Layer::WasteDeposits);
        let mut props = vec![None; s.fields.len()];
        props[s.index_of("material")] = Some(Value::Text("wood".into()));
        props[s.index_of("quantity")] = Some(Value::Float(1.0));
        props[s.index_of("confidentiality")] = Some(Value::Text(conf.into()));
        Feature {
            id,
            version: 1,
            geometry: Geometry::Point(point!(x: 0.1, y: 49.5)),
            props,
            extra: Default::default(),
        }
    }

    /// Rows agree with the row-form rule of `Access::sees`, for every kind of request.
    #[test]
    fn rows_agree_with_access_sees() {
        let feats = vec![
            deposit(1, "public"),
            deposit(2, "partners"),
            deposit(3, "public"),
        ];
        let data = LayerData::build(Layer::WasteDeposits, feats);
        let accesses = [
            Access::ANONYMOUS,
            Access::key(Role::Reader, false),
            Access::key(Role::Reader, true),
            Access::key(Role::Editor, false),
            Access::key(Role::Editor, true),
            Access::key(Role::Admin, false),
        ];
        for a in accesses {
            let vis = Visibility::new(&a, &data);
            for row in 0..data.len() as u32 {
                let f = data.feature(row);
                assert_eq!(
                    vis.row_visible(row),
                    a.sees(Layer::WasteDeposits, &f),
                    "{a:?} {row}"
                );
            }
            let n = vis.filter(0..data.len() as u32).count();
            assert_eq!(n, if a.partners() { 3 } else { 2 });
        }
    }
}

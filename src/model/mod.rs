//! The domain model, pure data: the five layers, their typed fields, the material taxonomy,
//! and features in row form.

mod access;
mod feature;
pub mod hash;
mod layer;
mod material;
mod project;
mod schema;

pub use access::{
    Access, Audience, CONFIDENTIAL_LAYER, CONFIDENTIAL_VALUE, CONFIDENTIALITY_FIELD, Role,
    UnknownRole, is_confidential,
};
pub use feature::{Feature, FeatureId, MAX_FEATURE_ID, Value, geometry_to_json};
pub use layer::{GeometryKind, Layer, UnknownLayer};
pub use material::{MATERIALS, UNITS, material_unit, parse_waste_code};
pub use project::{
    PROJECT_CONFIDENTIALITY, PROJECT_KINDS, PROJECTS_PATH, Project, ProjectId, Projects,
};
pub use schema::{
    AREA_SOURCE, Alias, BMO_SPREAD, BUILDING_STATUS, CONFIDENTIALITY, FREQUENCIES, Field,
    FieldType, ICPE_REGIMES, LayerSchema, Origin, PLOT_STATUS, TENURES, TextFormat, enum_variant,
    schema,
};

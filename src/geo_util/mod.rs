//! Pure maths on coordinates: coordinate reference systems (PROJ), geodesic distances and areas
//! on the WGS84 ellipsoid, and local metric scales used to turn metres into degrees.
//!
//! Units are in the names: `_m` metres, `_ha` hectares, `lonlat` WGS84 degrees.

mod andoyer;
mod crs;
mod geodesic;
pub mod grid_valid;
mod hilbert;

pub use andoyer::{ANDOYER_MAX_REL_ERROR, andoyer_distance_m};
pub use crs::{Crs, CrsError, Reprojector, for_each_coord_mut};
pub use geodesic::{
    WGS84_A, WGS84_F, area_ha, geodesic_distance_m, metres_per_degree, radius_envelope,
};
pub use hilbert::{hilbert_d, hilbert_index};

//! Tile settings: MVT extent and buffer, the size budget, generalisation zooms, the cache size.

/// How tiles are cut and generalised.
#[derive(Debug, Clone)]
pub struct TileConfig {
    /// MVT extent: tile units along a side.
    pub extent: u32,
    /// Buffer around the tile, in tile units, that geometries are kept in (so strokes and
    /// symbols at tile edges join up).
    pub buffer: u32,
    /// Largest uncompressed tile, bytes. Above it features are left out by priority.
    pub budget_bytes: usize,
    /// Up to this zoom features are generalised (simplified, merged, clustered) at load; above
    /// it tiles use the full geometries.
    pub generalise_max_zoom: u8,
    /// Cluster grid cells per tile side (16 → cells of 16 px on 256 px tiles).
    pub cluster_cells_per_tile: u32,
    /// Largest total size of cached tile bodies, bytes.
    pub cache_bytes: usize,
    /// Zoom up to which TileJSON invites clients to ask for tiles (they overzoom beyond);
    /// raised for a layer that is complete only from a higher zoom.
    pub max_zoom: u8,
    /// Attribution for TileJSON.
    pub attribution: String,
}

impl Default for TileConfig {
    fn default() -> Self {
        TileConfig {
            extent: 4096,
            buffer: 64,
            budget_bytes: 500_000,
            generalise_max_zoom: 12,
            cluster_cells_per_tile: 16,
            cache_bytes: 256 << 20,
            max_zoom: 14,
            attribution: "terriens; demo data is synthetic".to_string(),
        }
    }
}

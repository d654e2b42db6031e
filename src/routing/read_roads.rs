//! Reading a road file of any supported format into a [`RawNetwork`]: the format is picked
//! from the file name or, failing that, from the first bytes, and the bytes handed to the
//! reader of that format ([`super::osm`], [`super::bdtopo`]). Kept apart from
//! [`super::network`] so that the readers depend on the network type and this dispatch on
//! them, never the other way round.

use std::io::Read;
use std::path::Path;

use super::bdtopo::read_bdtopo;
use super::error::RoutingError;
use super::network::RawNetwork;
use super::osm::{read_pbf, read_xml};

impl RawNetwork {
    /// Reads a road file: `.osm.pbf`, `.osm` / `.osm.xml` (optionally gzip-compressed), or a
    /// BD TOPO `troncon_de_route` `.geojson` (any CRS PROJ knows; `crs` overrides the file's).
    pub fn read_file(
        path: &Path,
        crs: Option<&crate::geo_util::Crs>,
    ) -> Result<RawNetwork, RoutingError> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        let bytes = std::fs::read(path).map_err(RoutingError::io("cannot read", path))?;
        RawNetwork::read_bytes(&bytes, &name, crs)
    }

    /// Reads road data held in memory; the format comes from `name` (as for
    /// [`RawNetwork::read_file`]) or, failing that, from the first bytes.
    pub fn read_bytes(
        bytes: &[u8],
        name: &str,
        crs: Option<&crate::geo_util::Crs>,
    ) -> Result<RawNetwork, RoutingError> {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".pbf") {
            return read_pbf(bytes, name);
        }
        let plain: std::borrow::Cow<'_, [u8]> = if bytes.starts_with(&[0x1f, 0x8b]) {
            let mut out = Vec::new();
            flate2::read::MultiGzDecoder::new(bytes)
                .read_to_end(&mut out)
                .map_err(RoutingError::io("cannot decompress", name))?;
            out.into()
        } else {
            bytes.into()
        };
        let stem = lower.strip_suffix(".gz").unwrap_or(&lower);
        let first = plain.iter().find(|b| !b.is_ascii_whitespace()).copied();
        if stem.ends_with(".osm") || stem.ends_with(".xml") || first == Some(b'<') {
            read_xml(&plain, name)
        } else if stem.ends_with(".geojson") || stem.ends_with(".json") || first == Some(b'{') {
            read_bdtopo(&plain, name, crs)
        } else {
            Err(RoutingError::UnknownFormat(name.to_string()))
        }
    }
}

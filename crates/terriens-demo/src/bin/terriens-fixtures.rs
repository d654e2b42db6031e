//! `terriens-fixtures`: writes the deterministic synthetic demo data set (the committed
//! `fixtures/` at scale 1, or a large data directory for benchmarks).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};

use terriens_demo::{DEFAULT_SEED, OutputFormat, generate_with};

#[derive(Clone, Copy, ValueEnum)]
enum FixtureFormat {
    Geojson,
    Store,
}

/// Write the deterministic synthetic demo data set.
#[derive(Parser)]
#[command(name = "terriens-fixtures", version)]
struct Cli {
    /// Output directory.
    #[arg(long, default_value = "fixtures")]
    out: PathBuf,
    /// Scale factor (1 = the committed demo set; 500 gives ≥1M deposits and ≥200k plots).
    #[arg(long, default_value_t = 1)]
    scale: u32,
    /// Random seed.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// geojson (the committed fixtures) or store (a data directory for `terriens serve
    /// --data`, for large scales).
    #[arg(long, value_enum, default_value_t = FixtureFormat::Geojson)]
    format: FixtureFormat,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let format = match cli.format {
        FixtureFormat::Geojson => OutputFormat::GeoJson,
        FixtureFormat::Store => OutputFormat::Store,
    };
    match generate_with(&cli.out, cli.scale, cli.seed, format, |w| eprintln!("{w}")) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

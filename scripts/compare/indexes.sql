-- Run on every start of run.sh (idempotent): the index that makes PostGIS's radius + material
-- query fastest here. A GiST index on (material, geography) (btree_gist) lets one index scan
-- apply both conditions; without it the planner ANDs the geography GiST bitmap with the
-- material btree bitmap (140k rows for wood) and runs ~1.7× slower (135 vs 230 tps, scale 500).
create extension if not exists btree_gist;
create index if not exists waste_deposits_material_geog on waste_deposits
  using gist (material, (geom::geography));
analyze waste_deposits;

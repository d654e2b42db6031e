-- Columns and indexes the comparison needs, after ogr2ogr loaded the FlatGeobuf layers:
-- the feature id as bigint (terriens' id), geometry in EPSG:4326 (typed by ogr2ogr) with a GiST index, a GiST
-- index on geography(geom) for ST_DWithin in metres, a 3857 copy with its GiST index for martin.
-- One table rewrite per layer.
alter table waste_deposits
  alter column fid type bigint,
  add column geom3857 geometry(Point, 3857) generated always as (ST_Transform(geom, 3857)) stored;
alter table plots
  alter column fid type bigint,
  add column geom3857 geometry(MultiPolygon, 3857) generated always as (ST_Transform(geom, 3857)) stored;
create unique index waste_deposits_fid on waste_deposits (fid);
create index waste_deposits_geom on waste_deposits using gist (geom);
create index waste_deposits_geog on waste_deposits using gist ((geom::geography));
create index waste_deposits_geom3857 on waste_deposits using gist (geom3857);
create index waste_deposits_material on waste_deposits (material);
create unique index plots_fid on plots (fid);
create index plots_geom on plots using gist (geom);
create index plots_geom3857 on plots using gist (geom3857);
vacuum analyze waste_deposits;
vacuum analyze plots;

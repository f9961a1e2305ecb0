-- The schema as commit 34ec50d's create_all made it (CreateTable/CreateIndex of
-- git show 34ec50d:sync/store/sql_tables.py, compiled for SQLite). Do not edit.
CREATE TABLE audit (
	id INTEGER NOT NULL,
	at_ms BIGINT NOT NULL,
	officer_id VARCHAR NOT NULL,
	action VARCHAR NOT NULL,
	target VARCHAR NOT NULL,
	details TEXT NOT NULL,
	PRIMARY KEY (id)
);

CREATE INDEX ix_audit_officer_id ON audit (officer_id);

CREATE TABLE batch_answer (
	device_id VARCHAR NOT NULL,
	batch_id VARCHAR NOT NULL,
	request_hash VARCHAR NOT NULL,
	answer BLOB NOT NULL,
	created_ms BIGINT NOT NULL,
	PRIMARY KEY (device_id, batch_id)
);

CREATE INDEX ix_batch_answer_created ON batch_answer (created_ms);

CREATE TABLE boundary (
	layer VARCHAR NOT NULL,
	code VARCHAR NOT NULL,
	name VARCHAR NOT NULL,
	props TEXT NOT NULL,
	geometry BLOB NOT NULL,
	PRIMARY KEY (layer, code)
);

CREATE TABLE chain_head (
	device_id VARCHAR NOT NULL,
	n BIGINT NOT NULL,
	hash VARCHAR NOT NULL,
	PRIMARY KEY (device_id)
);

CREATE TABLE "conflict" (
	id INTEGER NOT NULL,
	station_id VARCHAR NOT NULL,
	collection VARCHAR NOT NULL,
	record_id VARCHAR NOT NULL,
	field VARCHAR NOT NULL,
	losing_value TEXT NOT NULL,
	losing_hlc VARCHAR NOT NULL,
	losing_device VARCHAR NOT NULL,
	winning_hlc VARCHAR NOT NULL,
	winning_device VARCHAR NOT NULL,
	seq BIGINT NOT NULL,
	created_ms BIGINT NOT NULL,
	PRIMARY KEY (id),
	UNIQUE (collection, record_id, field, losing_hlc, losing_device)
);

CREATE INDEX ix_conflict_station ON "conflict" (station_id, id);

CREATE TABLE counter (
	name VARCHAR NOT NULL,
	value BIGINT NOT NULL,
	PRIMARY KEY (name)
);

CREATE TABLE credential (
	officer_id VARCHAR NOT NULL,
	password_hash VARCHAR NOT NULL,
	failed INTEGER NOT NULL,
	locked_until_ms BIGINT NOT NULL,
	PRIMARY KEY (officer_id)
);

CREATE TABLE device (
	id VARCHAR NOT NULL,
	officer_id VARCHAR NOT NULL,
	name VARCHAR NOT NULL,
	token_hash VARCHAR NOT NULL,
	created_ms BIGINT NOT NULL,
	revoked_ms BIGINT,
	PRIMARY KEY (id),
	UNIQUE (token_hash)
);

CREATE INDEX ix_device_officer_id ON device (officer_id);

CREATE TABLE enrollment (
	code_hash VARCHAR NOT NULL,
	officer_id VARCHAR NOT NULL,
	expires_ms BIGINT NOT NULL,
	created_by VARCHAR NOT NULL,
	used_ms BIGINT,
	device_id VARCHAR,
	PRIMARY KEY (code_hash)
);

CREATE TABLE incident_point (
	id VARCHAR NOT NULL,
	station_id VARCHAR NOT NULL,
	category VARCHAR NOT NULL,
	occurred_s BIGINT NOT NULL,
	lon FLOAT,
	lat FLOAT,
	district VARCHAR,
	sector VARCHAR,
	cell BIGINT,
	deleted BOOLEAN NOT NULL,
	seq BIGINT NOT NULL,
	PRIMARY KEY (id)
);

CREATE INDEX ix_point_station_time ON incident_point (station_id, occurred_s, cell, deleted, category);

CREATE INDEX ix_point_time ON incident_point (occurred_s, cell, deleted, category, station_id);

CREATE TABLE officer (
	id VARCHAR NOT NULL,
	name VARCHAR NOT NULL,
	role VARCHAR NOT NULL,
	station_id VARCHAR,
	PRIMARY KEY (id)
);

CREATE INDEX ix_officer_station_id ON officer (station_id);

CREATE TABLE record (
	collection VARCHAR NOT NULL,
	id VARCHAR NOT NULL,
	station_id VARCHAR NOT NULL,
	seq BIGINT NOT NULL,
	deleted BOOLEAN NOT NULL,
	doc TEXT NOT NULL,
	clocks TEXT NOT NULL,
	pii TEXT,
	author_officer VARCHAR NOT NULL,
	author_device VARCHAR NOT NULL,
	chain_n BIGINT,
	updated_ms BIGINT NOT NULL,
	PRIMARY KEY (collection, id),
	UNIQUE (seq)
);

CREATE INDEX ix_record_chain ON record (author_device, chain_n) WHERE chain_n IS NOT NULL;

CREATE INDEX ix_record_station_seq ON record (station_id, seq);

CREATE TABLE station (
	id VARCHAR NOT NULL,
	name VARCHAR NOT NULL,
	district_code VARCHAR,
	PRIMARY KEY (id)
);

CREATE TABLE track_point (
	entry_id VARCHAR NOT NULL,
	device_id VARCHAR NOT NULL,
	officer_id VARCHAR NOT NULL,
	station_id VARCHAR NOT NULL,
	at_s BIGINT NOT NULL,
	lon FLOAT NOT NULL,
	lat FLOAT NOT NULL,
	PRIMARY KEY (entry_id)
);

CREATE INDEX ix_track_device_time ON track_point (device_id, at_s);

CREATE INDEX ix_track_station_time ON track_point (station_id, at_s);

CREATE TABLE web_session (
	token_hash VARCHAR NOT NULL,
	officer_id VARCHAR NOT NULL,
	csrf VARCHAR NOT NULL,
	expires_ms BIGINT NOT NULL,
	PRIMARY KEY (token_hash)
);

CREATE INDEX ix_web_session_officer_id ON web_session (officer_id);

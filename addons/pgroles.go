package addons

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/lib/pq"
)

// Roles, as on Heroku: each add-on's database is owned by a role of its
// own that logs in with a password and is no superuser, so an app cannot
// read the host's files (pg_read_file), run programs (COPY … FROM
// PROGRAM) or reach the other add-ons' databases on the shared server.
// Extensions: a database owner may create PostgreSQL's "trusted" ones
// (hstore, citext, pgcrypto, uuid-ossp, pg_trgm … since PostgreSQL 13),
// and with pgextwlist preloaded the rest of Heroku's list too
// (herokuExtensions); pg_stat_statements is created by dynobox's admin
// role in every database when the server preloads it.

// pgRoleName is the role that owns database db. The prefix keeps it apart
// from the admin role and the postgres account whatever the add-on's name.
func pgRoleName(db string) string { return "u_" + db }

// ensureDatabase creates (or repairs) an add-on's role and database: the
// role gets password and no privilege beyond owning its database; the
// database is reachable by its owner only. Objects that the admin role
// owns in it — every table of a database made by a dynobox from before
// roles, whose apps connected as the admin — are given to the owner. This
// is also the end of readiness: the server answers queries with our
// password.
func (s *pgServer) ensureDatabase(ctx context.Context, name, role, password string) error {
	db, err := s.connect("postgres")
	if err != nil {
		return err
	}
	defer db.Close()
	attrs := " LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD " + pq.QuoteLiteral(password)
	var exists bool
	if err := db.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", role).Scan(&exists); err != nil {
		return fmt.Errorf("query postgres: %w", err)
	}
	if !exists {
		_, err = db.ExecContext(ctx, "CREATE ROLE "+pq.QuoteIdentifier(role)+attrs)
		if pgErrCode(err) == "42710" { // created meanwhile by a sharing add-on
			exists = true
		} else if err != nil {
			return fmt.Errorf("create role %s: %w", role, err)
		}
	}
	if exists {
		// Also takes superuser from a role an earlier dynobox made one.
		if _, err := db.ExecContext(ctx, "ALTER ROLE "+pq.QuoteIdentifier(role)+attrs); err != nil {
			return fmt.Errorf("alter role %s: %w", role, err)
		}
	}

	var owner string
	err = db.QueryRowContext(ctx, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1", name).Scan(&owner)
	if errors.Is(err, sql.ErrNoRows) {
		_, err = db.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(name)+" OWNER "+pq.QuoteIdentifier(role))
		if pgErrCode(err) == "42P04" { // created meanwhile by a sharing add-on
			err = nil
		}
		if err != nil {
			return fmt.Errorf("create database %s: %w", name, err)
		}
		owner = role
	} else if err != nil {
		return fmt.Errorf("query postgres: %w", err)
	}
	if owner != role {
		s.log(fmt.Sprintf("database %s belongs to %s; giving it and its objects to role %s (the app no longer connects as a superuser)", name, owner, role))
		if _, err := db.ExecContext(ctx, "ALTER DATABASE "+pq.QuoteIdentifier(name)+" OWNER TO "+pq.QuoteIdentifier(role)); err != nil {
			return fmt.Errorf("give database %s to %s: %w", name, role, err)
		}
	}
	// Several add-ons share one server: each database is its owner's alone.
	if _, err := db.ExecContext(ctx, "REVOKE ALL ON DATABASE "+pq.QuoteIdentifier(name)+" FROM PUBLIC"); err != nil {
		return fmt.Errorf("revoke access to %s: %w", name, err)
	}

	in, err := s.connect(name)
	if err != nil {
		return err
	}
	defer in.Close()
	if _, err := in.ExecContext(ctx, fmt.Sprintf(pgGiveOwnedSQL, pq.QuoteLiteral(role))); err != nil {
		return fmt.Errorf("give the objects in %s to %s: %w", name, role, err)
	}
	if s.preload {
		if _, err := in.ExecContext(ctx, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"); err != nil && pgErrCode(err) != "23505" && pgErrCode(err) != "42710" {
			return fmt.Errorf("create extension pg_stat_statements in %s: %w", name, err)
		}
	}
	return nil
}

// pgGiveOwnedSQL gives the objects the admin role (current_user) owns in
// the current database — schemas, tables, views, materialized views,
// foreign tables, sequences of their own, functions, procedures,
// aggregates and types — to the role %s. Catalogs and extension members
// stay; indexes, owned sequences and row types follow their tables.
// (REASSIGN OWNED cannot be used: the admin is the bootstrap superuser,
// which owns the system catalogs.)
const pgGiveOwnedSQL = `DO $give$
DECLARE
	r record;
	admin oid := (SELECT oid FROM pg_roles WHERE rolname = current_user);
	target text := quote_ident(%s);
BEGIN
	FOR r IN SELECT nspname FROM pg_namespace
		WHERE nspowner = admin AND nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\_%%'
	LOOP
		EXECUTE format('ALTER SCHEMA %%I OWNER TO %%s', r.nspname, target);
	END LOOP;
	FOR r IN SELECT c.oid::regclass AS obj, CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
			WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relowner = admin AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
			AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%%'
			AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('e', 'a', 'i'))
		ORDER BY c.relkind = 'S'
	LOOP
		EXECUTE format('ALTER %%s %%s OWNER TO %%s', r.kind, r.obj, target);
	END LOOP;
	FOR r IN SELECT p.oid::regprocedure AS obj FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
		WHERE p.proowner = admin AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%%'
			AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
	LOOP
		EXECUTE format('ALTER ROUTINE %%s OWNER TO %%s', r.obj, target);
	END LOOP;
	FOR r IN SELECT t.oid::regtype AS obj, CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END AS kind
		FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
		WHERE t.typowner = admin AND (t.typtype IN ('d', 'e', 'r')
				OR (t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c'))
			AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%%'
			AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e')
	LOOP
		EXECUTE format('ALTER %%s %%s OWNER TO %%s', r.kind, r.obj, target);
	END LOOP;
END
$give$`

// dropDatabase deletes an add-on's database and role (addons:destroy):
// new connections are refused, open ones ended, then both go.
func (s *pgServer) dropDatabase(ctx context.Context, name, role string) error {
	db, err := s.connect("postgres")
	if err != nil {
		return err
	}
	defer db.Close()
	qname := pq.QuoteIdentifier(name)
	var exists bool
	if err := db.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("query postgres: %w", err)
	}
	if exists {
		if _, err := db.ExecContext(ctx, "ALTER DATABASE "+qname+" ALLOW_CONNECTIONS false"); err != nil {
			return fmt.Errorf("close database %s: %w", name, err)
		}
		if _, err := db.ExecContext(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", name); err != nil {
			return fmt.Errorf("disconnect the clients of %s: %w", name, err)
		}
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+qname); err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
	}
	if _, err := db.ExecContext(ctx, "DROP ROLE IF EXISTS "+pq.QuoteIdentifier(role)); err != nil {
		return fmt.Errorf("drop role %s: %w", role, err)
	}
	return nil
}

// pgErrCode is the SQLSTATE of a server error, "" for other errors.
func pgErrCode(err error) string {
	var perr *pq.Error
	if errors.As(err, &perr) {
		return string(perr.Code)
	}
	return ""
}

// pgHasLibrary reports whether a server module is installed beside the
// binaries in binDir (Debian: ../lib/; the embedded-postgres and source
// builds: ../lib/postgresql/). Preloading a missing one would keep the
// server from starting.
func pgHasLibrary(binDir, name string) bool {
	for _, dir := range []string{"lib", filepath.Join("lib", "postgresql")} {
		for _, ext := range []string{".so", ".dylib", ".dll"} {
			if _, err := os.Stat(filepath.Join(binDir, "..", dir, name+ext)); err == nil {
				return true
			}
		}
	}
	return false
}

// herokuExtensions are the extensions Heroku Postgres lets an app create
// (Heroku Dev Center, "Extensions, Modules and Other Languages"): with
// pgextwlist the app's role creates these whether or not PostgreSQL calls
// them trusted. Those not installed on this machine fail as on any server
// without them. Tools that read the server's files or pages (file_fdw,
// adminpack, pageinspect, pg_surgery) are not on the list.
var herokuExtensions = []string{
	"address_standardizer", "address_standardizer_data_us", "amcheck", "autoinc", "bloom",
	"btree_gin", "btree_gist", "citext", "cube", "dblink", "dict_int", "dict_xsyn",
	"earthdistance", "fuzzystrmatch", "hstore", "insert_username", "intagg", "intarray",
	"isn", "lo", "ltree", "moddatetime", "pg_partman", "pg_stat_statements", "pg_trgm",
	"pgcrypto", "pgrouting", "pgrowlocks", "pgstattuple", "plpgsql", "plv8", "postgis",
	"postgis_raster", "postgis_sfcgal", "postgis_tiger_geocoder", "postgis_topology",
	"postgres_fdw", "refint", "seg", "sslinfo", "tablefunc", "tcn", "tsm_system_rows",
	"tsm_system_time", "unaccent", "uuid-ossp", "vector",
}

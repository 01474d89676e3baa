package store

import (
	"database/sql"
	"fmt"
	"time"

	"brygga/config"
)

// pgConns bounds the connections one node holds: several nodes share the
// server, whose max_connections (100 by default) is for all of them.
const pgConns = 10

// openPostgres opens the PostgreSQL database at url, through pgx. The
// server is asked nothing until the migrations run, which is where an
// unreachable server or a refused login shows.
func openPostgres(url string) (*DB, error) {
	name := config.RedactURL(url)
	s, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", name, err)
	}
	s.SetMaxOpenConns(pgConns)
	s.SetMaxIdleConns(pgConns)
	// A connection idle this long is closed, so a node that was busy once
	// does not hold the server's connections for good.
	s.SetConnMaxIdleTime(5 * time.Minute)
	db := &DB{sql: newConn(s, dialectPostgres), name: name}
	if err := db.migrate(); err != nil {
		s.Close()
		return nil, err
	}
	return db, nil
}

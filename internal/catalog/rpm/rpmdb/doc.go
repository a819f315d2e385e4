// Package rpmdb reads the storage formats of the RPM package database
// without cgo or the rpm tools: the header blob every format stores
// (ParseHeader), Berkeley DB hash files (ReadBDB, /var/lib/rpm/Packages) and
// NDB files (ReadNDB, SUSE's Packages.db). The SQLite format is read by the
// parent package rpm with a SQL driver; this package stays free of it so
// its fuzz targets run fast.
package rpmdb

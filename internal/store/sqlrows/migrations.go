package sqlrows

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strconv"
)

var migrationName = regexp.MustCompile(`^([0-9]{4})_[a-z0-9_]+\.sql$`)

// EachMigration hands add a store's migrations in order: the files
// migrations/NNNN_name.sql of fsys, which must be numbered 1, 2, 3, …
// without gaps; anything else is an error. Both stores name and number
// their migrations by this one rule (the same number adds the same tables
// in both); each applies them its own way.
func EachMigration(fsys fs.FS, add func(version int, name, text string)) error {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return err
	}
	// fs.Glob returns names sorted; with four-digit numbers that is numeric
	// order.
	for i, p := range names {
		name := path.Base(p)
		m := migrationName.FindStringSubmatch(name)
		if m == nil {
			return fmt.Errorf("migration %s: name is not NNNN_name.sql", name)
		}
		v, _ := strconv.Atoi(m[1])
		if v != i+1 {
			return fmt.Errorf("migration %s: want number %04d", name, i+1)
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		add(v, name, string(b))
	}
	return nil
}

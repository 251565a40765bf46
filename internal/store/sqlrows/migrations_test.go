package sqlrows

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
)

func TestEachMigration(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	for _, tt := range []struct {
		name    string
		files   fstest.MapFS
		want    []string // version:name:text
		wantErr string
	}{
		{"none", fstest.MapFS{}, nil, ""},
		{"in order", fstest.MapFS{
			"migrations/0002_b.sql": file("B"),
			"migrations/0001_a.sql": file("A"),
			"migrations/notes.txt":  file("not a migration"),
		}, []string{"1:0001_a.sql:A", "2:0002_b.sql:B"}, ""},
		{"a gap", fstest.MapFS{
			"migrations/0001_a.sql": file("A"),
			"migrations/0003_c.sql": file("C"),
		}, nil, "migration 0003_c.sql: want number 0002"},
		{"not from 1", fstest.MapFS{"migrations/0002_b.sql": file("B")}, nil, "want number 0001"},
		{"bad name", fstest.MapFS{"migrations/0001_A.sql": file("A")}, nil, "name is not NNNN_name.sql"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			err := EachMigration(tt.files, func(version int, name, text string) {
				got = append(got, strconv.Itoa(version)+":"+name+":"+text)
			})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

package kms

import "testing"

func TestMultiRegionIDs(t *testing.T) {
	const mrk = "mrk-0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		id   string
		isID bool
	}{
		{mrk, true},
		{"mrk-0123456789ABCDEF0123456789abcdef", false}, // resolve lower-cases first
		{"mrk-0123456789abcdef0123456789abcde", false},
		{mrk + "/us-east-1", false},
		{"01234567-89ab-cdef-0123-456789abcdef", false},
	} {
		if got := isMRKID(tc.id); got != tc.isID {
			t.Errorf("isMRKID(%q) = %v", tc.id, got)
		}
	}
	if got := mrkStoreID(mrk, "eu-west-1"); got != mrk+"/eu-west-1" || wireKeyID(got) != mrk {
		t.Errorf("store id %q, wire id %q", got, wireKeyID(got))
	}
	uuid := "01234567-89ab-cdef-0123-456789abcdef"
	if wireKeyID(uuid) != uuid || storeIDIn(uuid, "eu-west-1") != uuid || storeIDIn(mrk, "eu-west-1") != mrk+"/eu-west-1" {
		t.Error("single-Region ids must pass through unchanged")
	}
	if got := keyARN("eu-west-1", "111122223333", mrk+"/eu-west-1"); got != "arn:aws:kms:eu-west-1:111122223333:key/"+mrk {
		t.Errorf("keyARN = %s", got)
	}
	for i := 0; i < 4; i++ {
		id, err := newMRKID()
		if err != nil || !isMRKID(id) {
			t.Fatalf("newMRKID = %q, %v", id, err)
		}
	}
}

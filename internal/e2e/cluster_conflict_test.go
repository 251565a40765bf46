package e2e

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
)

// TestClusterConflictingWrites sends the same write through three real
// nodes on one PostgreSQL database at once (goroutines released together,
// several rounds) and checks that the cluster ends in one state that every
// node reports, and that each loser gets an AWS error, never a silent
// second winner:
//   - CreateAlias of one name to three keys: one wins, two get
//     AlreadyExistsException; ListAliases shows the name once, on the
//     winner's key.
//   - RotateKeyOnDemand of one key: the rotations listed through every
//     node are one per success, with distinct key material, one CURRENT;
//     a ciphertext made through A after them decrypts through B and C.
//   - CreateGrant with one Name: idempotent by Name, so one GrantId.
//   - TagResource of one tag key to three values: one value, agreed by
//     every node.
//
// Checked against a broken store: with the revision check of the
// PostgreSQL store's updateKey removed (WHERE id = ? only), all three
// TagResource calls of round 0 succeed and ListResourceTags shows only
// the last writer's own tag (by-C-0): a lost update, and the test fails.
// A second rotation to the same version is refused by key_versions'
// primary key even then; the rotation checks catch a store that lets it.
func TestClusterConflictingWrites(t *testing.T) {
	ctx := context.Background()
	in := initOnDatabase(t, "--account", "444455556666")
	var cl [3]*kms.Client
	for i := range cl {
		// Not throttled: the rounds would soon exceed AWS's control-plane
		// rates (CreateAlias etc.), and this test is about races.
		cl[i] = in.rootClient(in.serve(t, "--throttle=false"))
	}
	names := [3]string{"A", "B", "C"}
	newKey := func() string {
		t.Helper()
		k, err := cl[0].CreateKey(ctx, &kms.CreateKeyInput{})
		if err != nil {
			t.Fatal(err)
		}
		return *k.KeyMetadata.KeyId
	}
	// Every node first uses the key, so that each holds it in its cache
	// and a lost race comes from a stale cache as well as from timing.
	warm := func(id string) {
		t.Helper()
		for i := range cl {
			eventually(t, "DescribeKey through "+names[i], func() error {
				_, err := cl[i].DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
				return err
			})
		}
	}
	const rounds = 6

	// 1. CreateAlias of one name through every node.
	var targets [3]string
	for i := range targets {
		targets[i] = newKey()
	}
	winners := map[string]string{} // alias name → target key
	for r := range rounds {
		name := fmt.Sprintf("alias/race-%d", r)
		errs := together(func(i int) error {
			_, err := cl[i].CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(name), TargetKeyId: aws.String(targets[i])})
			return err
		})
		for i, err := range errs {
			var exists *types.AlreadyExistsException
			switch {
			case err == nil:
				if w, ok := winners[name]; ok {
					t.Fatalf("%s: CreateAlias succeeded through %s and through the node of key %s", name, names[i], w)
				}
				winners[name] = targets[i]
			case !errors.As(err, &exists):
				t.Fatalf("%s: CreateAlias through %s: %v, want success or AlreadyExistsException", name, names[i], err)
			}
		}
		if _, ok := winners[name]; !ok {
			t.Fatalf("%s: no CreateAlias succeeded: %v", name, errs)
		}
	}
	for i := range cl {
		seen := map[string]int{}
		p := kms.NewListAliasesPaginator(cl[i], &kms.ListAliasesInput{})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("ListAliases through %s: %v", names[i], err)
			}
			for _, a := range page.Aliases {
				want, ok := winners[*a.AliasName]
				if !ok {
					continue
				}
				seen[*a.AliasName]++
				if a.TargetKeyId == nil || *a.TargetKeyId != want {
					t.Errorf("ListAliases through %s: %s targets %v, want the winner %s", names[i], *a.AliasName, aws.ToString(a.TargetKeyId), want)
				}
			}
		}
		for name := range winners {
			if seen[name] != 1 {
				t.Errorf("ListAliases through %s: %s listed %d times, want once", names[i], name, seen[name])
			}
		}
	}

	// 2. RotateKeyOnDemand of one key through every node.
	rot := newKey()
	warm(rot)
	successes, lost := 0, map[string]int{}
	for r := range rounds {
		errs := together(func(i int) error {
			_, err := cl[i].RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(rot)})
			return err
		})
		won := 0
		for i, err := range errs {
			var ae smithy.APIError
			switch {
			case err == nil:
				won++
			case errors.As(err, &ae) && slices.Contains(lostRaceAnswers, ae.ErrorCode()):
				lost[ae.ErrorCode()]++
			default:
				t.Fatalf("round %d: RotateKeyOnDemand through %s: %v, want success or an AWS error", r, names[i], err)
			}
		}
		// The store's compare-and-swap lets the first commit at a revision
		// through, so some node wins every round.
		if won == 0 {
			t.Fatalf("round %d: no RotateKeyOnDemand succeeded: %v", r, errs)
		}
		successes += won
	}
	t.Logf("RotateKeyOnDemand: %d rounds through 3 nodes: %d succeeded, lost races answered %v", rounds, successes, lost)
	for i := range cl {
		// A node learns of the others' rotations through the change feed.
		eventually(t, "ListKeyRotations through "+names[i], func() error {
			return checkRotations(ctx, cl[i], rot, successes)
		})
	}
	ct, err := cl[0].Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(rot), Plaintext: []byte("after the race")})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 3; i++ {
		pt, err := cl[i].Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: ct.CiphertextBlob})
		if err != nil {
			t.Fatalf("Decrypt through %s of a ciphertext made through A: %v", names[i], err)
		}
		if string(pt.Plaintext) != "after the race" {
			t.Fatalf("Decrypt through %s: %q", names[i], pt.Plaintext)
		}
	}

	// 3. CreateGrant of one Name through every node: idempotent by Name.
	gk := newKey()
	warm(gk)
	grantIDs := map[string]string{}
	for r := range 3 {
		name := fmt.Sprintf("race-%d", r)
		ids := make([]string, 3)
		errs := together(func(i int) error {
			g, err := cl[i].CreateGrant(ctx, &kms.CreateGrantInput{KeyId: aws.String(gk), Name: aws.String(name),
				GranteePrincipal: aws.String("arn:aws:iam::444455556666:user/grantee"),
				Operations:       []types.GrantOperation{types.GrantOperationEncrypt, types.GrantOperationDecrypt}})
			if err == nil {
				ids[i] = *g.GrantId
			}
			return err
		})
		for i, err := range errs {
			if err != nil {
				t.Fatalf("grant %s: CreateGrant through %s: %v, want success (idempotent by Name)", name, names[i], err)
			}
		}
		if ids[0] != ids[1] || ids[0] != ids[2] {
			t.Fatalf("grant %s: CreateGrant of one Name at once through A, B, C gave grant ids %v, want one", name, ids)
		}
		grantIDs[name] = ids[0]
	}
	for i := range cl {
		g, err := cl[i].ListGrants(ctx, &kms.ListGrantsInput{KeyId: aws.String(gk)})
		if err != nil {
			t.Fatalf("ListGrants through %s: %v", names[i], err)
		}
		got := map[string]string{}
		for _, e := range g.Grants {
			if _, dup := got[aws.ToString(e.Name)]; dup {
				t.Errorf("ListGrants through %s: grant name %s listed twice", names[i], aws.ToString(e.Name))
			}
			got[aws.ToString(e.Name)] = aws.ToString(e.GrantId)
		}
		if fmt.Sprint(got) != fmt.Sprint(grantIDs) {
			t.Errorf("ListGrants through %s: %v, want %v", names[i], got, grantIDs)
		}
	}

	// 4. TagResource of one tag key to three values through every node.
	// Each call also adds a tag of its own ("by-B-3"): a write that
	// succeeded on a stale copy of the tags would drop the others' tags
	// (a lost update), which the listing below catches.
	tk := newKey()
	warm(tk)
	tagLost := map[string]int{}
	want := map[string]string{} // the tags every node must list
	for r := range rounds {
		values := [3]string{}
		for i := range values {
			values[i] = fmt.Sprintf("round-%d-%s", r, names[i])
		}
		errs := together(func(i int) error {
			_, err := cl[i].TagResource(ctx, &kms.TagResourceInput{KeyId: aws.String(tk),
				Tags: []types.Tag{{TagKey: aws.String("owner"), TagValue: aws.String(values[i])},
					{TagKey: aws.String(fmt.Sprintf("by-%s-%d", names[i], r)), TagValue: aws.String("x")}}})
			return err
		})
		// AWS answers every one (the last write wins); Trent may answer
		// a lost race with an error (see lostRaceAnswers), which must then
		// have changed nothing: the value left is one that succeeded.
		var written []string
		for i, err := range errs {
			var ae smithy.APIError
			switch {
			case err == nil:
				written = append(written, values[i])
				want[fmt.Sprintf("by-%s-%d", names[i], r)] = "x"
			case errors.As(err, &ae) && slices.Contains(lostRaceAnswers, ae.ErrorCode()):
				tagLost[ae.ErrorCode()]++
			default:
				t.Fatalf("round %d: TagResource through %s: %v, want success", r, names[i], err)
			}
		}
		if len(written) == 0 {
			t.Fatalf("round %d: no TagResource succeeded: %v", r, errs)
		}
		var agreed string
		for i := range cl {
			eventually(t, "ListResourceTags through "+names[i], func() error {
				tags, err := cl[i].ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: aws.String(tk)})
				if err != nil {
					return err
				}
				got := map[string]string{}
				for _, tag := range tags.Tags {
					got[aws.ToString(tag.TagKey)] = aws.ToString(tag.TagValue)
				}
				v := got["owner"]
				delete(got, "owner")
				if fmt.Sprint(got) != fmt.Sprint(want) {
					return fmt.Errorf("tags besides owner %v, want those of the calls that succeeded %v", got, want)
				}
				if !slices.Contains(written, v) {
					return fmt.Errorf("owner=%s, want one of the values written %v", v, written)
				}
				if agreed != "" && v != agreed {
					return fmt.Errorf("owner=%s, another node says %s", v, agreed)
				}
				agreed = v
				return nil
			})
		}
	}
	t.Logf("TagResource: %d rounds through 3 nodes: lost races answered %v", rounds, tagLost)
}

// lostRaceAnswers are the answers a write may get when it loses a race
// with another node's: LimitExceededException for the on-demand rotation
// cap, ConflictException only if a write lost eight races in a row. A lost
// compare-and-swap in the store (store.ErrConflict) is retried on the key as
// it is now (kms.Service.update and addVersion), so KMSInternalException is
// not among them: it was, before the retry, for 8–12 of 18 rotations and 12
// of 18 TagResource calls.
var lostRaceAnswers = []string{"ConflictException", "LimitExceededException"}

// together calls f(0), f(1) and f(2) at once, each in its own goroutine
// released by one signal, and returns their errors.
func together(f func(i int) error) []error {
	errs := make([]error, 3)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = f(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// checkRotations checks what ListKeyRotations (all key material) says of
// key id after want on-demand rotations: the original material and one
// entry per rotation, each material distinct, exactly the last CURRENT,
// rotation dates in order.
func checkRotations(ctx context.Context, cl *kms.Client, id string, want int) error {
	var all []types.RotationsListEntry
	p := kms.NewListKeyRotationsPaginator(cl, &kms.ListKeyRotationsInput{KeyId: aws.String(id),
		IncludeKeyMaterial: types.IncludeKeyMaterialAllKeyMaterial})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		all = append(all, page.Rotations...)
	}
	if len(all) != want+1 {
		return fmt.Errorf("%d entries, want %d (the original material and %d rotations)", len(all), want+1, want)
	}
	materials := map[string]bool{}
	var last time.Time
	for n, e := range all {
		m := aws.ToString(e.KeyMaterialId)
		if m == "" || materials[m] {
			return fmt.Errorf("entry %d: key material id %q empty or repeated", n, m)
		}
		materials[m] = true
		current := e.KeyMaterialState == types.KeyMaterialStateCurrent
		if current != (n == len(all)-1) {
			return fmt.Errorf("entry %d of %d: state %s, want only the last CURRENT", n, len(all), e.KeyMaterialState)
		}
		if n == 0 {
			continue
		}
		if e.RotationType != types.RotationTypeOnDemand || e.RotationDate == nil {
			return fmt.Errorf("entry %d: type %s date %v, want an ON_DEMAND rotation with a date", n, e.RotationType, e.RotationDate)
		}
		if e.RotationDate.Before(last) {
			return fmt.Errorf("entry %d: rotated %v, before the previous %v", n, *e.RotationDate, last)
		}
		last = *e.RotationDate
	}
	return nil
}

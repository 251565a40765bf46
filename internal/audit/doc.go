// Package audit is Trent's audit log: one CloudTrail-shaped event per
// request, durable before the request is answered, hash-chained, covered by
// signed digests, verifiable offline from the files alone, and searchable
// for LookupEvents and GetKeyLastUsage. It never decides access and never
// builds an AWS answer; it must never receive plaintext, key material,
// secret access keys, session tokens, passwords or signatures (events are
// built with an AllowList, which refuses blobs and secret-named members).
//
// # Wiring: two steps per request, in the dispatch layer
//
//	if err := auditLog.Ready(); err != nil { answer 5xx; return }   // nothing performed
//	… authenticate, authorize, perform, fill ev with the outcome …
//	if err := auditLog.Record(ctx, ev); err != nil { answer 5xx; return } // answer withheld
//	answer
//
// or, as one call, err := auditLog.Run(ctx, func() []*Event { …; return
// []*Event{ev} }), which also refuses a request that yields no event.
//
// An event's size never refuses a request: an errorMessage is clipped to
// MaxErrorMessageBytes (SetError), and an event whose line would pass
// MaxEventBytes is written with its largest caller-sized fields
// (requestParameters, responseElements) replaced by
// {"omitted":true,"trentOmittedBytes":n}, CloudTrail's own "omitted"
// for a field past its maximum size.
//
// Record is called after performing because CloudTrail records outcomes
// (errorCode, responseElements); Ready before, so that while the disk is
// full, failing or stuck nothing is performed at all. ErrTimeout maps to
// DependencyTimeoutException, any other error to KMSInternalException.
//
// The residual window, stated plainly: a request that passed Ready and ran
// may find the log failing when it records. The caller then gets a 5xx,
// and its event stays queued and is written when the disk recovers, so
// the log never lacks an event for a request that ran; it may hold the
// event of a request whose caller got a 5xx (the record says what was
// done; the 5xx says the answer was withheld). Only a crash of the
// process in that window — after a state-changing operation (CreateKey,
// PutKeyPolicy, an IAM change…) committed and before its event's fsync
// returned — loses the event of something that happened; the caller never
// got a success for it. Cryptographic operations have no such window: their
// only effect is the answer, which is not released. Closing it would take
// a write-ahead "intent" line before every state-changing operation: a
// second fsync per mutation and a second line per request, against
// "exactly one event per request" and the line format scripts read. We
// chose not to, for now; it can be added for mutating rows only without
// changing the files' format for the rest.
//
// # Files (scripts depend on this layout)
//
// In Options.Dir (<data-dir>/audit, 0700), every file 0600:
//
//   - audit-<UTC yyyymmddThhmmssZ>-<seq>.jsonl: JSON lines, one event per
//     line, in CloudTrail's shape. A new file is started at each Open (on
//     the first event) and whenever one reaches Options.MaxFileBytes. Each
//     line ends with two fields of Trent's own: "trentSeq", the event's
//     number in the log (1, 2, 3 … across all files), and
//     "trentPrevHash", the hex SHA-256 of the previous line's bytes as
//     written, newline included (the first line of the log has 64 zeros;
//     the first line of a file links to the last line of the file before).
//     `sed -n Np FILE | sha256sum` prints the hash the next line carries.
//     A node of an installation on PostgreSQL adds a third, "trentNode",
//     its node id, after trentPrevHash (cluster.go).
//     The file being written may end in zero bytes after its last line
//     (a preallocated segment, below); every other file, and every file of
//     a log Trent closed or reopened, holds lines only.
//   - digest-<UTC time>-<seq>.json: a signed digest (see Digest), written
//     at least every Options.DigestInterval while there are new events, at
//     rotation, at Close and at Open after a crash. It covers the events
//     written since the previous digest — per file: byte offsets, first
//     and last event number and hash — and quotes the previous digest's
//     name and signature, so digests form a chain of their own. Signed
//     with ECDSA P-384 over SHA-384.
//   - lookup-<UTC time>-<seq>.idx: the lookup index of the event file of
//     the same time and number, once it is closed (index.go, indexer.go),
//     signed with the digest key (indexsig.go): not part of the log,
//     never read by Verify or Open, safe to delete.
//   - node-id: on a node of several, the node's id (cluster.go).
//   - The older part of a log may have been moved to another directory by
//     Archive (`trent audit archive`): whole event files and every digest
//     but the newest, so the directory's first digest chains to one that
//     is elsewhere. Verify takes those directories beside the log's.
//   - archived-to: the directories Archive moved files to, one absolute
//     path a line (ArchivedToFile): not part of the log; Open looks there
//     for the events of a restored store's intents (intent.go).
//   - audit-public-key.pem: the digest signing key's public half, written
//     at Open, for `trent audit verify` without --public-key (which then
//     trusts what it finds beside the files; pass the key to check
//     against one you hold).
//
// # Durability and group commit
//
// Record hands its event to a single writer goroutine and waits. The
// writer takes every event queued while its previous fsync ran, writes
// them with one write and one fsync, then answers all of them: under load,
// many requests share one fsync. Nothing is acknowledged before its fsync
// returns (fdatasync on Linux: data and size, not timestamps). A write cut
// short by a crash leaves an incomplete last line; Open cuts it off (its
// Record never returned nil) and the next digest records what was cut
// (file, offset, length, SHA-256).
//
// Preallocated segments: appending makes every fdatasync commit the
// file's new size to the file system's journal too; writing over blocks
// that already hold durable zeros does not. So once a file passes 64 KiB,
// a background goroutine writes a spare file of MaxFileBytes zeros (at
// most 256 MiB) under a hidden temporary name and fsyncs it; the writer
// starts its next file by renaming the spare (rotating early, once, when
// the spare is ready) and writes over the zeros from the start. The first
// zero byte ends a file's lines (no line holds one: JSON escapes it). The
// writer cuts the zeros off at rotation and at Close; after a crash, Open
// cuts them off with any incomplete line, and Verify reads them as space
// never written — in the newest file with events only. A file system
// whose Files are not io.Seekers gets no spares and appends. A spare is
// made only while the file system has four times its size free, and a
// failed attempt holds off the next for 30 s.
//
// # Failure
//
// When a write or fsync fails (disk full, I/O error), Record returns an
// error at once, Ready fails (so /readyz is 503 and requests are refused
// before they run), and the writer keeps the failed batch and retries it,
// after cutting off any partial write, with growing pauses (10 ms to 1 s):
// once the disk takes it, the log is ready again — no restart. A write
// that hangs in the kernel cannot hang callers: Record gives up after
// Options.Deadline (ErrTimeout), and Ready fails while a write has been
// hanging longer than that. The optional mirror (Options.Mirror) gets each
// line after it is durable, through a bounded queue that drops (and
// counts) what it cannot take, so it never slows the log.
//
// # Verification
//
// Verify reads the files only. It checks every digest's signature and its
// link to the previous digest, every event's link to the line before it,
// and that the digests' ranges cover the events end to end; it names the
// first edited, deleted, inserted or reordered line, and the missing,
// replaced or foreign-signed digest. Events after the newest digest are
// chain-checked and reported as not yet covered: a crash leaves some, and
// so would deleting the newest digest — the files alone cannot tell those
// apart; keep the newest digest's signature elsewhere if that matters.
// It reads one event file at a time, so it needs memory for one file,
// not for the log.
package audit

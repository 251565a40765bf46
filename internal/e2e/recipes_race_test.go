//go:build race

package e2e

// raceBuild tells the recipe tests they run under -race (skipUnderRace).
const raceBuild = true

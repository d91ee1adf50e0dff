package blueprint

import (
	"errors"
	"fmt"
)

// DocumentError is a fault of one of several documents (Index counts from 0).
type DocumentError struct {
	Index int
	*YAMLError
}

// ReadVampDocuments reads the documents given to data "vamp_blueprint": each holds Vamp
// artifacts (blueprints, and the breeds and scales they reference by name, separated by ---).
// The blueprints are resolved against every document's artifacts and merged in order (the first
// is the deployment; the next ones may state only what changes). It returns the merged
// blueprint, not yet normalized, and the notes of what was read but has no effect here.
func ReadVampDocuments(docs []string) (*Blueprint, []string, []DocumentError) {
	all := &Artifacts{Breeds: map[string]*VampBreed{}, Scales: map[string]*Scale{}, SLAs: map[string]*VampSLA{}}
	type indexed struct {
		index int
		bp    *VampBlueprint
	}
	var blueprints []indexed
	var errs []DocumentError
	fail := func(i int, err error) {
		var yerrs YAMLErrors
		if errors.As(err, &yerrs) {
			for _, e := range yerrs {
				errs = append(errs, DocumentError{Index: i, YAMLError: e})
			}
			return
		}
		errs = append(errs, DocumentError{Index: i, YAMLError: &YAMLError{Msg: err.Error()}})
	}
	for i, doc := range docs {
		arts, err := ReadArtifacts([]byte(doc), ReadOptions{Partial: true})
		if err != nil {
			fail(i, err)
			continue
		}
		for _, bp := range arts.Blueprints {
			blueprints = append(blueprints, indexed{i, bp})
		}
		for name, b := range arts.Breeds {
			if _, dup := all.Breeds[name]; dup {
				fail(i, YAMLErrors{{Kind: ErrDuplicateKey, Path: Path{}.Attr("name"), Msg: "breed " + name + " is given by two documents; give it once"}})
			}
			all.Breeds[name] = b
		}
		for name, sc := range arts.Scales {
			all.Scales[name] = sc
		}
		for name, s := range arts.SLAs {
			all.SLAs[name] = s
		}
		if len(arts.Gateways) > 0 {
			fail(i, YAMLErrors{{Kind: ErrNotSupported, Path: Path{}.Attr("kind"), Msg: "a gateway document is a vamp_gateway resource here, not part of a blueprint"}})
		}
	}
	if len(errs) > 0 {
		return nil, nil, errs
	}
	if len(blueprints) == 0 {
		return nil, nil, []DocumentError{{Index: 0, YAMLError: &YAMLError{Kind: ErrNoService, Msg: "no blueprint among the documents: give at least one document with name and clusters"}}}
	}
	var merged *Blueprint
	var notes []string
	for n, ib := range blueprints {
		if n == 0 && !hasService(ib.bp) {
			fail(ib.index, YAMLErrors{{Kind: ErrNoService, Path: Path{}.Attr("clusters"), Msg: "the first blueprint is the deployment and has no service; add clusters: {NAME: {services: [{breed: ...}]}}"}})
			continue
		}
		res, err := Resolve(ib.bp, all)
		if err != nil {
			fail(ib.index, err)
			continue
		}
		notes = append(notes, res.Notes...)
		merged = Merge(merged, res.Blueprint)
	}
	if len(errs) > 0 {
		return nil, nil, errs
	}
	return merged, notes, nil
}

func hasService(bp *VampBlueprint) bool {
	for _, c := range bp.Clusters {
		if len(c.Services) > 0 {
			return true
		}
	}
	return false
}

// ParseYAML reads one document holding a blueprint (and the breeds, scales and SLAs it names)
// the way data "vamp_blueprint" reads each document: Vamp's readers, then Resolve. Faults are
// YAMLErrors.
func ParseYAML(doc []byte) (*Blueprint, error) {
	arts, err := ReadArtifacts(doc, ReadOptions{Partial: true})
	if err != nil {
		return nil, err
	}
	if len(arts.Blueprints) != 1 {
		return nil, YAMLErrors{{Kind: ErrNoService, Msg: fmt.Sprintf("the document holds %d blueprints; give one", len(arts.Blueprints))}}
	}
	res, err := Resolve(arts.Blueprints[0], arts)
	if err != nil {
		return nil, err
	}
	return res.Blueprint, nil
}

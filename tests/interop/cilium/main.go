// cilium-load: loads a BPF ELF object with cilium/ebpf and prints what it found as JSON, for
// tests/interop_cilium.rs. Built offline against Debian's golang-github-cilium-ebpf-dev
// (cilium/ebpf 0.9.1) and Go's standard library only.
//
// Usage: cilium-load [-spec-only] [-push MAP=V1,V2,...]... [-run PROGRAM]... OBJECT.o
//
//  1. ebpf.LoadCollectionSpec(OBJECT.o): cilium/ebpf's ELF, BTF, .BTF.ext and .maps reader;
//  2. ebpf.NewCollection(spec): creates the maps and loads the programs (the verifier runs);
//  3. pushes each -push value into its queue or stack map (little-endian, in the map's value
//     size), in order;
//  4. test-runs each -run program once, in order, on 64 zero bytes;
//  5. pops every queue and stack map until it is empty.
//
// Prints one JSON document: the maps and programs of the spec, what the kernel reports about
// them after step 2, the return values of step 4 and the values of step 5. When a step fails
// it prints "STEP: error" on stderr and exits 1. With -spec-only it stops after step 1 and
// prints the spec's map and program names ({"maps": [...], "programs": [...]}).
package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
)

type loadedMap struct {
	TypeID     uint32 `json:"type_id"`
	KeySize    uint32 `json:"key_size"`
	ValueSize  uint32 `json:"value_size"`
	MaxEntries uint32 `json:"max_entries"`
	Flags      uint32 `json:"flags"`
	Name       string `json:"name"`
}

type mapOut struct {
	Name       string    `json:"name"`
	Type       string    `json:"type"`
	TypeID     uint32    `json:"type_id"`
	KeySize    uint32    `json:"key_size"`
	ValueSize  uint32    `json:"value_size"`
	MaxEntries uint32    `json:"max_entries"`
	Flags      uint32    `json:"flags"`
	HasBTF     bool      `json:"has_btf"`
	Loaded     loadedMap `json:"loaded"`
}

type progOut struct {
	Name    string `json:"name"`
	Section string `json:"section"`
	Type    string `json:"type"`
	TypeID  uint32 `json:"type_id"`
	License string `json:"license"`
	// Instruction slots after cilium/ebpf linked the program (callees appended).
	Insns int `json:"insns"`
	// Instructions carrying a func_info record / a line_info record from .BTF.ext.
	FuncInfos int `json:"func_infos"`
	LineInfos int `json:"line_infos"`
	// What the kernel reports about the loaded program.
	LoadedTypeID uint32 `json:"loaded_type_id"`
	LoadedName   string `json:"loaded_name"`
	LoadedBTF    bool   `json:"loaded_btf"`
}

type runOut struct {
	Program string `json:"program"`
	Retval  uint32 `json:"retval"`
}

type drained struct {
	Name   string   `json:"name"`
	Values []uint64 `json:"values"`
}

type out struct {
	Maps      []mapOut  `json:"maps"`
	Programs  []progOut `json:"programs"`
	Runs      []runOut  `json:"runs"`
	MapsAfter []drained `json:"maps_after"`
}

type list []string

func (l *list) String() string     { return strings.Join(*l, " ") }
func (l *list) Set(s string) error { *l = append(*l, s); return nil }

func fail(step string, err error) {
	fmt.Fprintf(os.Stderr, "%s: %v\n", step, err)
	os.Exit(1)
}

func isQueueOrStack(t ebpf.MapType) bool {
	return t == ebpf.Queue || t == ebpf.Stack
}

func main() {
	var pushes, runs list
	specOnly := flag.Bool("spec-only", false, "print the names in the spec and stop")
	flag.Var(&pushes, "push", "MAP=V1,V2,...: push these values before the runs (repeatable)")
	flag.Var(&runs, "run", "PROGRAM: test-run this program (repeatable, in order)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: cilium-load [-spec-only] [-push MAP=V1,V2,...]... [-run PROGRAM]... OBJECT.o")
		os.Exit(2)
	}

	spec, err := ebpf.LoadCollectionSpec(flag.Arg(0))
	if err != nil {
		fail("LoadCollectionSpec", err)
	}
	if *specOnly {
		names := struct {
			Maps     []string `json:"maps"`
			Programs []string `json:"programs"`
		}{[]string{}, []string{}}
		for name := range spec.Maps {
			names.Maps = append(names.Maps, name)
		}
		for name := range spec.Programs {
			names.Programs = append(names.Programs, name)
		}
		sort.Strings(names.Maps)
		sort.Strings(names.Programs)
		if err := json.NewEncoder(os.Stdout).Encode(names); err != nil {
			fail("encode", err)
		}
		return
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		fail("NewCollection", err)
	}
	defer coll.Close()

	o := out{Maps: []mapOut{}, Programs: []progOut{}, Runs: []runOut{}, MapsAfter: []drained{}}
	for name, m := range spec.Maps {
		lm, ok := coll.Maps[name]
		if !ok {
			fail("NewCollection", fmt.Errorf("map %s was not created", name))
		}
		info, err := lm.Info()
		if err != nil {
			fail("Map.Info", err)
		}
		o.Maps = append(o.Maps, mapOut{
			Name:       name,
			Type:       m.Type.String(),
			TypeID:     uint32(m.Type),
			KeySize:    m.KeySize,
			ValueSize:  m.ValueSize,
			MaxEntries: m.MaxEntries,
			Flags:      m.Flags,
			HasBTF:     m.BTF != nil,
			Loaded: loadedMap{
				TypeID:     uint32(info.Type),
				KeySize:    info.KeySize,
				ValueSize:  info.ValueSize,
				MaxEntries: info.MaxEntries,
				Flags:      info.Flags,
				Name:       info.Name,
			},
		})
	}
	for name, p := range spec.Programs {
		lp, ok := coll.Programs[name]
		if !ok {
			fail("NewCollection", fmt.Errorf("program %s was not loaded", name))
		}
		info, err := lp.Info()
		if err != nil {
			fail("Program.Info", err)
		}
		_, hasBTF := info.BTFID()
		po := progOut{
			Name:         name,
			Section:      p.SectionName,
			Type:         p.Type.String(),
			TypeID:       uint32(p.Type),
			License:      p.License,
			Insns:        int(p.Instructions.Size() / 8),
			LoadedTypeID: uint32(info.Type),
			LoadedName:   info.Name,
			LoadedBTF:    hasBTF,
		}
		for i := range p.Instructions {
			if btf.FuncMetadata(&p.Instructions[i]) != nil {
				po.FuncInfos++
			}
			if p.Instructions[i].Source() != nil {
				po.LineInfos++
			}
		}
		o.Programs = append(o.Programs, po)
	}

	for _, push := range pushes {
		name, values, ok := strings.Cut(push, "=")
		m := coll.Maps[name]
		if !ok || m == nil {
			fail("push", fmt.Errorf("%q: no such map", push))
		}
		for _, v := range strings.Split(values, ",") {
			n, err := strconv.ParseUint(v, 0, 64)
			if err != nil {
				fail("push", err)
			}
			buf := make([]byte, 8)
			binary.LittleEndian.PutUint64(buf, n)
			if err := m.Update(nil, buf[:m.ValueSize()], ebpf.UpdateAny); err != nil {
				fail("push "+name, err)
			}
		}
	}

	for _, name := range runs {
		p := coll.Programs[name]
		if p == nil {
			fail("run", fmt.Errorf("%s: no such program", name))
		}
		ret, _, err := p.Test(make([]byte, 64))
		if err != nil {
			fail("run "+name, err)
		}
		o.Runs = append(o.Runs, runOut{Program: name, Retval: ret})
	}

	for name, m := range coll.Maps {
		if !isQueueOrStack(m.Type()) {
			continue
		}
		d := drained{Name: name, Values: []uint64{}}
		for {
			buf := make([]byte, m.ValueSize())
			err := m.LookupAndDelete(nil, &buf)
			if errors.Is(err, ebpf.ErrKeyNotExist) {
				break
			}
			if err != nil {
				fail("pop "+name, err)
			}
			wide := make([]byte, 8)
			copy(wide, buf)
			d.Values = append(d.Values, binary.LittleEndian.Uint64(wide))
		}
		o.MapsAfter = append(o.MapsAfter, d)
	}

	sort.Slice(o.Maps, func(i, j int) bool { return o.Maps[i].Name < o.Maps[j].Name })
	sort.Slice(o.Programs, func(i, j int) bool { return o.Programs[i].Name < o.Programs[j].Name })
	sort.Slice(o.MapsAfter, func(i, j int) bool { return o.MapsAfter[i].Name < o.MapsAfter[j].Name })
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(o); err != nil {
		fail("encode", err)
	}
}

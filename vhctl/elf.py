"""Just enough of an ELF reader to learn which libraries and symbols a shared library uses.

`vhctl install` must know which libpython the Verlihub plugin embeds (vh-plugin.md F1) and how it
was built (F2). Both are written in the plugin's ELF file: the libraries it needs (``DT_NEEDED``), the
Python API functions it imports (undefined ``.dynsym`` entries) and its read-only strings. We read
them ourselves, in pure Python, because ``ldd`` runs the dynamic loader on the file (it may execute
code, and fails for a library built for another machine) and pyelftools would be a dependency for
about a hundred lines of ``struct``. 32- and 64-bit files of either byte order are understood.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

MAGIC = b"\x7fELF"

# Program header, section header and dynamic-entry types used here (ELF gABI).
PT_LOAD, PT_DYNAMIC = 1, 2
SHT_PROGBITS, SHT_DYNAMIC, SHT_DYNSYM = 1, 6, 11
SHF_ALLOC, SHF_EXECINSTR = 0x2, 0x4
DT_NULL, DT_NEEDED, DT_STRTAB, DT_STRSZ, DT_SONAME, DT_RPATH, DT_RUNPATH = 0, 1, 5, 10, 14, 15, 29
SHN_UNDEF = 0

_SYMBOL_TYPES = {0: "notype", 1: "object", 2: "func", 3: "section", 4: "file", 5: "common", 6: "tls",
                 10: "ifunc"}
_BINDINGS = {0: "local", 1: "global", 2: "weak", 10: "unique"}

# Layouts per class; only the field order differs between 32 and 64 bits (and p_flags moves).
_LAYOUT = {
    32: {"header": "HHIIIIIHHHHHH", "section": "IIIIIIIIII", "segment": "IIIIIIII",
         "dyn": "iI", "sym": "IIIBBH"},
    64: {"header": "HHIQQQIHHHHHH", "section": "IIQQQQIIQQ", "segment": "IIQQQQQQ",
         "dyn": "qQ", "sym": "IBBHQQ"},
}


class ElfError(ValueError):
    """The file is not an ELF file, or is cut short or inconsistent; ``str()`` is one line."""


@dataclass(frozen=True)
class Section:
    name: str
    type: int
    flags: int
    addr: int
    offset: int
    size: int
    link: int
    entsize: int


@dataclass(frozen=True)
class Segment:
    type: int
    offset: int
    vaddr: int
    filesz: int


@dataclass(frozen=True)
class DynamicSymbol:
    """One ``.dynsym`` entry: ``defined`` is False for a symbol the library imports."""

    name: str
    defined: bool
    kind: str
    binding: str


class ElfFile:
    """A parsed ELF file held in memory (plugin libraries are a few MiB at most)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._data = self.path.read_bytes()
        except OSError as exc:
            raise ElfError(f"{self.path}: cannot read ({exc.strerror})") from None
        data = self._data
        if len(data) < 16 or data[:4] != MAGIC:
            raise ElfError(f"{self.path} is not an ELF file (not a compiled library)")
        if data[4] not in (1, 2) or data[5] not in (1, 2):
            raise ElfError(f"{self.path}: unknown ELF class or byte order")
        self.bits = 32 if data[4] == 1 else 64
        self.endian = "little" if data[5] == 1 else "big"
        self._prefix = "<" if self.endian == "little" else ">"
        layout = _LAYOUT[self.bits]
        (self.type, self.machine, _version, _entry, phoff, shoff, _flags, _ehsize, phentsize, phnum,
         shentsize, shnum, shstrndx) = self._unpack(layout["header"], 16)
        self.sections = self._read_sections(shoff, shentsize, shnum, shstrndx)
        if phnum == 0xFFFF and self.sections:  # PN_XNUM: the real count is in section 0's sh_info
            phnum = self._unpack(layout["section"], shoff)[7]
        self.segments = self._read_segments(phoff, phentsize, phnum)
        self._dynamic = self._read_dynamic()

    # -- low level ---------------------------------------------------------------------------

    def _unpack(self, fmt: str, offset: int) -> tuple:
        fmt = self._prefix + fmt
        end = offset + struct.calcsize(fmt)
        if offset < 0 or end > len(self._data):
            raise ElfError(f"{self.path}: truncated or corrupt ELF file")
        return struct.unpack_from(fmt, self._data, offset)

    def _cstring(self, table_offset: int, table_size: int, index: int) -> str:
        start = table_offset + index
        limit = min(table_offset + table_size, len(self._data))
        if index < 0 or start >= limit:
            raise ElfError(f"{self.path}: string index outside its table")
        end = self._data.find(b"\x00", start, limit)
        return self._data[start:end if end >= 0 else limit].decode("utf-8", "replace")

    def _read_sections(self, shoff: int, shentsize: int, shnum: int, shstrndx: int) -> list[Section]:
        if shoff == 0:
            return []  # section headers stripped (sstrip): the program headers still work
        fmt = _LAYOUT[self.bits]["section"]
        if shentsize and shentsize < struct.calcsize(fmt):
            raise ElfError(f"{self.path}: section header entries too small")
        first = self._unpack(fmt, shoff)
        if shnum == 0:  # more than 0xff00 sections: the count is in section 0's sh_size
            shnum = first[5]
        if shstrndx == 0xFFFF:  # SHN_XINDEX
            shstrndx = first[6]
        raw = [self._unpack(fmt, shoff + i * shentsize) for i in range(shnum)]
        names_at, names_size = (raw[shstrndx][4], raw[shstrndx][5]) if shstrndx < len(raw) else (0, 0)
        sections = []
        for name, type_, flags, addr, offset, size, link, _info, _align, entsize in raw:
            label = self._cstring(names_at, names_size, name) if names_size else ""
            sections.append(Section(label, type_, flags, addr, offset, size, link, entsize))
        return sections

    def _read_segments(self, phoff: int, phentsize: int, phnum: int) -> list[Segment]:
        fmt = _LAYOUT[self.bits]["segment"]
        segments = []
        for i in range(phnum if phoff else 0):
            fields = self._unpack(fmt, phoff + i * phentsize)
            if self.bits == 64:
                type_, _flags, offset, vaddr, _paddr, filesz, _memsz, _align = fields
            else:
                type_, offset, vaddr, _paddr, filesz, _memsz, _flags, _align = fields
            segments.append(Segment(type_, offset, vaddr, filesz))
        return segments

    def _address_to_offset(self, address: int) -> int:
        for seg in self.segments:
            if seg.type == PT_LOAD and seg.vaddr <= address < seg.vaddr + seg.filesz:
                return address - seg.vaddr + seg.offset
        for sec in self.sections:  # objects without program headers
            if sec.addr and sec.addr <= address < sec.addr + sec.size:
                return address - sec.addr + sec.offset
        raise ElfError(f"{self.path}: dynamic string table address {address:#x} is not in the file")

    def _read_dynamic(self) -> dict[int, list[int]]:
        """``{tag: [values]}`` of the dynamic section (PT_DYNAMIC, else the SHT_DYNAMIC section)."""
        place = next(((s.offset, s.filesz) for s in self.segments if s.type == PT_DYNAMIC), None)
        if place is None:
            place = next(((s.offset, s.size) for s in self.sections if s.type == SHT_DYNAMIC), None)
        if place is None:
            return {}  # a static executable or a relocatable object: no dynamic linking
        fmt = _LAYOUT[self.bits]["dyn"]
        step = struct.calcsize(self._prefix + fmt)
        entries: dict[int, list[int]] = {}
        offset, size = place
        for at in range(offset, offset + size - step + 1, step):
            tag, value = self._unpack(fmt, at)
            if tag == DT_NULL:
                break
            entries.setdefault(tag, []).append(value)
        return entries

    def _dynamic_strings(self, tag: int) -> list[str]:
        values = self._dynamic.get(tag, [])
        if not values:
            return []
        if DT_STRTAB not in self._dynamic:
            raise ElfError(f"{self.path}: dynamic section has no string table")
        table = self._address_to_offset(self._dynamic[DT_STRTAB][0])
        size = self._dynamic.get(DT_STRSZ, [len(self._data) - table])[0]
        return [self._cstring(table, size, value) for value in values]

    # -- what callers use --------------------------------------------------------------------

    @property
    def needed(self) -> list[str]:
        """The ``DT_NEEDED`` entries, in link order (what the loader loads with this file)."""
        return self._dynamic_strings(DT_NEEDED)

    @property
    def soname(self) -> str | None:
        names = self._dynamic_strings(DT_SONAME)
        return names[0] if names else None

    @property
    def search_path(self) -> list[str]:
        """``DT_RUNPATH`` (else ``DT_RPATH``) entries, ``$ORIGIN`` replaced by the file's folder."""
        raw = self._dynamic_strings(DT_RUNPATH) or self._dynamic_strings(DT_RPATH)
        origin = str(self.path.resolve().parent)
        out = []
        for value in raw:
            for entry in value.split(":"):
                if entry:
                    out.append(entry.replace("${ORIGIN}", origin).replace("$ORIGIN", origin))
        return out

    def dynamic_symbols(self) -> list[DynamicSymbol]:
        """Every ``.dynsym`` entry with a name (its string table is the section it links to)."""
        table = next((s for s in self.sections if s.type == SHT_DYNSYM), None)
        if table is None or table.link >= len(self.sections):
            return []
        names = self.sections[table.link]
        fmt = _LAYOUT[self.bits]["sym"]
        step = table.entsize or struct.calcsize(self._prefix + fmt)
        symbols = []
        for at in range(table.offset + step, table.offset + table.size - step + 1, step):  # skip index 0
            fields = self._unpack(fmt, at)
            if self.bits == 64:
                name, info, _other, shndx, _value, _size = fields
            else:
                name, _value, _size, info, _other, shndx = fields
            if not name:
                continue
            symbols.append(DynamicSymbol(
                name=self._cstring(names.offset, names.size, name),
                defined=shndx != SHN_UNDEF,
                kind=_SYMBOL_TYPES.get(info & 0xF, str(info & 0xF)),
                binding=_BINDINGS.get(info >> 4, str(info >> 4)),
            ))
        return symbols

    def imports(self) -> frozenset[str]:
        """Names of the symbols this file needs from other libraries."""
        return frozenset(s.name for s in self.dynamic_symbols() if not s.defined)

    def contains_text(self, needle: bytes) -> bool:
        """Whether ``needle`` occurs in the file's read-only data (string literals live there).

        Only allocated, non-executable data sections are searched so that debug information or a
        symbol name cannot pass for a string; a file whose section headers were stripped is
        searched whole.
        """
        if not self.sections:
            return needle in self._data
        data_sections = [s for s in self.sections
                         if s.type == SHT_PROGBITS and s.flags & SHF_ALLOC and not s.flags & SHF_EXECINSTR]
        return any(self._data.find(needle, s.offset, s.offset + s.size) >= 0 for s in data_sections)

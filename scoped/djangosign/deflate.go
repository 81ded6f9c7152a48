package djangosign

// This file ports the compression path of zlib 1.2.x (deflate.c and
// trees.c: deflate_slow, longest_match, fill_window and the Huffman tree
// construction) at level 6, window 2^15 and memLevel 8, so that
// zlibCompress(data) is byte for byte Python's zlib.compress(data) and a
// compressed token equals the one Django writes. Go's compress/flate is a
// different compressor: its output is valid but not identical.

const (
	zWBits      = 15
	zWSize      = 1 << zWBits
	zWMask      = zWSize - 1
	zHashBits   = 8 + 7 // memLevel + 7
	zHashSize   = 1 << zHashBits
	zHashMask   = zHashSize - 1
	zHashShift  = (zHashBits + zMinMatch - 1) / zMinMatch
	zMinMatch   = 3
	zMaxMatch   = 258
	zMinLook    = zMaxMatch + zMinMatch + 1
	zMaxDist    = zWSize - zMinLook
	zLitBufSize = 1 << (8 + 6)
	zSymEnd     = (zLitBufSize - 1) * 3
	zTooFar     = 4096
	zWinInit    = zMaxMatch
	// level 6
	zGoodLength = 8
	zMaxLazy    = 16
	zNiceLength = 128
	zMaxChain   = 128

	zLengthCodes = 29
	zLiterals    = 256
	zLCodes      = zLiterals + 1 + zLengthCodes
	zDCodes      = 30
	zBLCodes     = 19
	zHeapSize    = 2*zLCodes + 1
	zMaxBits     = 15
	zMaxBLBits   = 7
	zEndBlock    = 256
	zRep3_6      = 16
	zRepz3_10    = 17
	zRepz11_138  = 18
)

var (
	zExtraLBits  = [zLengthCodes]int{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	zExtraDBits  = [zDCodes]int{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
	zExtraBLBits = [zBLCodes]int{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 3, 7}
	zBLOrder     = [zBLCodes]int{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

	zBaseLength [zLengthCodes]int
	zLengthCode [256]uint8
	zBaseDist   [zDCodes]int
	zDistCode   [512]uint8
	zStaticL    zTree // 288 entries
	zStaticD    zTree
)

// zTree is a ct_data array with its union fields kept apart.
type zTree struct {
	freq, code, dad, len []int
}

func newZTree(n int) zTree {
	return zTree{make([]int, n), make([]int, n), make([]int, n), make([]int, n)}
}

func init() {
	length := 0
	code := 0
	for code = 0; code < zLengthCodes-1; code++ {
		zBaseLength[code] = length
		for n := 0; n < 1<<zExtraLBits[code]; n++ {
			zLengthCode[length] = uint8(code)
			length++
		}
	}
	zLengthCode[length-1] = uint8(code)
	dist := 0
	for code = 0; code < 16; code++ {
		zBaseDist[code] = dist
		for n := 0; n < 1<<zExtraDBits[code]; n++ {
			zDistCode[dist] = uint8(code)
			dist++
		}
	}
	dist >>= 7
	for ; code < zDCodes; code++ {
		zBaseDist[code] = dist << 7
		for n := 0; n < 1<<(zExtraDBits[code]-7); n++ {
			zDistCode[256+dist] = uint8(code)
			dist++
		}
	}
	var blCount [zMaxBits + 1]int
	zStaticL = newZTree(zLCodes + 2)
	n := 0
	for ; n <= 143; n++ {
		zStaticL.len[n] = 8
		blCount[8]++
	}
	for ; n <= 255; n++ {
		zStaticL.len[n] = 9
		blCount[9]++
	}
	for ; n <= 279; n++ {
		zStaticL.len[n] = 7
		blCount[7]++
	}
	for ; n <= 287; n++ {
		zStaticL.len[n] = 8
		blCount[8]++
	}
	zGenCodes(zStaticL, zLCodes+1, blCount[:])
	zStaticD = newZTree(zDCodes)
	for n := 0; n < zDCodes; n++ {
		zStaticD.len[n] = 5
		zStaticD.code[n] = zBiReverse(n, 5)
	}
}

func zBiReverse(code, n int) int {
	res := 0
	for ; n > 0; n-- {
		res |= code & 1
		code >>= 1
		res <<= 1
	}
	return res >> 1
}

func zGenCodes(t zTree, maxCode int, blCount []int) {
	var next [zMaxBits + 1]int
	code := 0
	for bits := 1; bits <= zMaxBits; bits++ {
		code = (code + blCount[bits-1]) << 1
		next[bits] = code
	}
	for n := 0; n <= maxCode; n++ {
		l := t.len[n]
		if l == 0 {
			continue
		}
		t.code[n] = zBiReverse(next[l], l)
		next[l]++
	}
}

func zDCode(dist int) int {
	if dist < 256 {
		return int(zDistCode[dist])
	}
	return int(zDistCode[256+(dist>>7)])
}

type zDesc struct {
	tree      zTree
	stree     *zTree
	extra     []int
	extraBase int
	elems     int
	maxLength int
	maxCode   int
}

type deflater struct {
	in []byte // remaining input

	window                 []byte
	windowSize             int
	highWater              int
	prev, head             []uint16 // zlib's Pos: window positions < 2*zWSize
	insH                   int
	blockStart             int
	matchLength, prevMatch int
	matchAvailable         bool
	strstart, matchStart   int
	lookahead              int
	prevLength             int
	insert                 int
	dynL, dynD, blT        zTree
	lDesc, dDesc, blDesc   zDesc
	blCount                [zMaxBits + 1]int
	heap                   [2*zLCodes + 1]int
	heapLen, heapMax       int
	depth                  [2*zLCodes + 1]int
	sym                    []byte
	optLen, staticLen      int
	out                    []byte
	biBuf                  uint32
	biValid                int
}

// zlibCompress returns zlib.compress(data) at the default level 6.
func zlibCompress(data []byte) []byte {
	s := &deflater{in: data}
	s.window = make([]byte, 2*zWSize)
	s.windowSize = 2 * zWSize
	s.prev = make([]uint16, zWSize)
	s.head = make([]uint16, zHashSize)
	s.dynL = newZTree(zHeapSize)
	s.dynD = newZTree(2*zDCodes + 1)
	s.blT = newZTree(2*zBLCodes + 1)
	s.lDesc = zDesc{tree: s.dynL, stree: &zStaticL, extra: zExtraLBits[:], extraBase: zLiterals + 1, elems: zLCodes, maxLength: zMaxBits}
	s.dDesc = zDesc{tree: s.dynD, stree: &zStaticD, extra: zExtraDBits[:], elems: zDCodes, maxLength: zMaxBits}
	s.blDesc = zDesc{tree: s.blT, extra: zExtraBLBits[:], elems: zBLCodes, maxLength: zMaxBLBits}
	s.sym = make([]byte, 0, zSymEnd)
	s.initBlock()
	s.matchLength, s.prevLength = zMinMatch-1, zMinMatch-1
	s.out = append(s.out, 0x78, 0x9c)
	s.deflateSlow()
	a := adler32(data)
	s.out = append(s.out, byte(a>>24), byte(a>>16), byte(a>>8), byte(a))
	return s.out
}

func adler32(p []byte) uint32 {
	const mod = 65521
	a, b := uint32(1), uint32(0)
	for len(p) > 0 {
		n := len(p)
		if n > 5552 {
			n = 5552
		}
		for _, c := range p[:n] {
			a += uint32(c)
			b += a
		}
		a %= mod
		b %= mod
		p = p[n:]
	}
	return b<<16 | a
}

func (s *deflater) initBlock() {
	for n := 0; n < zLCodes; n++ {
		s.dynL.freq[n] = 0
	}
	for n := 0; n < zDCodes; n++ {
		s.dynD.freq[n] = 0
	}
	for n := 0; n < zBLCodes; n++ {
		s.blT.freq[n] = 0
	}
	s.dynL.freq[zEndBlock] = 1
	s.optLen, s.staticLen = 0, 0
	s.sym = s.sym[:0]
}

func (s *deflater) updateHash(h int, c byte) int { return ((h << zHashShift) ^ int(c)) & zHashMask }

func (s *deflater) insertString(str int) int {
	s.insH = s.updateHash(s.insH, s.window[str+zMinMatch-1])
	m := s.head[s.insH]
	s.prev[str&zWMask] = m
	s.head[s.insH] = uint16(str)
	return int(m)
}

func (s *deflater) fillWindow() {
	for {
		more := s.windowSize - s.lookahead - s.strstart
		if s.strstart >= zWSize+zMaxDist {
			copy(s.window, s.window[zWSize:zWSize+zWSize-more])
			s.matchStart -= zWSize
			s.strstart -= zWSize
			s.blockStart -= zWSize
			if s.insert > s.strstart {
				s.insert = s.strstart
			}
			for i, m := range s.head {
				if m >= zWSize {
					s.head[i] = m - zWSize
				} else {
					s.head[i] = 0
				}
			}
			for i, m := range s.prev {
				if m >= zWSize {
					s.prev[i] = m - zWSize
				} else {
					s.prev[i] = 0
				}
			}
			more += zWSize
		}
		if len(s.in) == 0 {
			break
		}
		n := copy(s.window[s.strstart+s.lookahead:s.strstart+s.lookahead+more], s.in)
		s.in = s.in[n:]
		s.lookahead += n
		if s.lookahead+s.insert >= zMinMatch {
			str := s.strstart - s.insert
			s.insH = int(s.window[str])
			s.insH = s.updateHash(s.insH, s.window[str+1])
			for s.insert > 0 {
				s.insH = s.updateHash(s.insH, s.window[str+zMinMatch-1])
				s.prev[str&zWMask] = s.head[s.insH]
				s.head[s.insH] = uint16(str)
				str++
				s.insert--
				if s.lookahead+s.insert < zMinMatch {
					break
				}
			}
		}
		if s.lookahead >= zMinLook || len(s.in) == 0 {
			break
		}
	}
	if s.highWater < s.windowSize {
		curr := s.strstart + s.lookahead
		if s.highWater < curr {
			init := s.windowSize - curr
			if init > zWinInit {
				init = zWinInit
			}
			clear(s.window[curr : curr+init])
			s.highWater = curr + init
		} else if s.highWater < curr+zWinInit {
			init := curr + zWinInit - s.highWater
			if init > s.windowSize-s.highWater {
				init = s.windowSize - s.highWater
			}
			clear(s.window[s.highWater : s.highWater+init])
			s.highWater += init
		}
	}
}

func (s *deflater) longestMatch(cur int) int {
	chain := zMaxChain
	scan := s.strstart
	best := s.prevLength
	nice := zNiceLength
	limit := 0
	if s.strstart > zMaxDist {
		limit = s.strstart - zMaxDist
	}
	w := s.window
	end1, end := w[scan+best-1], w[scan+best]
	if s.prevLength >= zGoodLength {
		chain >>= 2
	}
	if nice > s.lookahead {
		nice = s.lookahead
	}
	for {
		m := cur
		if w[m+best] == end && w[m+best-1] == end1 && w[m] == w[scan] && w[m+1] == w[scan+1] {
			// zlib does not compare the third byte: equal hashes imply it.
			l := 3
			for l < zMaxMatch && w[scan+l] == w[m+l] {
				l++
			}
			if l > best {
				s.matchStart = cur
				best = l
				if l >= nice {
					break
				}
				end1, end = w[scan+best-1], w[scan+best]
			}
		}
		cur = int(s.prev[cur&zWMask])
		if cur <= limit {
			break
		}
		chain--
		if chain == 0 {
			break
		}
	}
	if best <= s.lookahead {
		return best
	}
	return s.lookahead
}

func (s *deflater) tallyLit(c byte) bool {
	s.sym = append(s.sym, 0, 0, c)
	s.dynL.freq[c]++
	return len(s.sym) == zSymEnd
}

func (s *deflater) tallyDist(dist, lc int) bool {
	s.sym = append(s.sym, byte(dist), byte(dist>>8), byte(lc))
	dist--
	s.dynL.freq[int(zLengthCode[lc])+zLiterals+1]++
	s.dynD.freq[zDCode(dist)]++
	return len(s.sym) == zSymEnd
}

func (s *deflater) flushBlock(last bool) {
	stored := s.strstart - s.blockStart
	var buf []byte
	if s.blockStart >= 0 {
		buf = s.window[s.blockStart : s.blockStart+stored]
	}
	s.trFlushBlock(buf, s.blockStart >= 0, stored, last)
	s.blockStart = s.strstart
}

func (s *deflater) deflateSlow() {
	for {
		if s.lookahead < zMinLook {
			s.fillWindow()
			if s.lookahead == 0 {
				break
			}
		}
		hashHead := 0
		if s.lookahead >= zMinMatch {
			hashHead = s.insertString(s.strstart)
		}
		s.prevLength, s.prevMatch = s.matchLength, s.matchStart
		s.matchLength = zMinMatch - 1
		if hashHead != 0 && s.prevLength < zMaxLazy && s.strstart-hashHead <= zMaxDist {
			s.matchLength = s.longestMatch(hashHead)
			if s.matchLength <= 5 && s.matchLength == zMinMatch && s.strstart-s.matchStart > zTooFar {
				s.matchLength = zMinMatch - 1
			}
		}
		switch {
		case s.prevLength >= zMinMatch && s.matchLength <= s.prevLength:
			maxInsert := s.strstart + s.lookahead - zMinMatch
			flush := s.tallyDist(s.strstart-1-s.prevMatch, s.prevLength-zMinMatch)
			s.lookahead -= s.prevLength - 1
			s.prevLength -= 2
			for {
				s.strstart++
				if s.strstart <= maxInsert {
					s.insertString(s.strstart)
				}
				s.prevLength--
				if s.prevLength == 0 {
					break
				}
			}
			s.matchAvailable = false
			s.matchLength = zMinMatch - 1
			s.strstart++
			if flush {
				s.flushBlock(false)
			}
		case s.matchAvailable:
			if s.tallyLit(s.window[s.strstart-1]) {
				s.flushBlock(false)
			}
			s.strstart++
			s.lookahead--
		default:
			s.matchAvailable = true
			s.strstart++
			s.lookahead--
		}
	}
	if s.matchAvailable {
		s.tallyLit(s.window[s.strstart-1])
		s.matchAvailable = false
	}
	s.insert = min(s.strstart, zMinMatch-1)
	s.flushBlock(true)
}

// --- trees.c ---

func (s *deflater) sendBits(value, length int) {
	s.biBuf |= uint32(value) << s.biValid
	s.biValid += length
	for s.biValid >= 16 {
		s.out = append(s.out, byte(s.biBuf), byte(s.biBuf>>8))
		s.biBuf >>= 16
		s.biValid -= 16
	}
}

func (s *deflater) biWindup() {
	if s.biValid > 8 {
		s.out = append(s.out, byte(s.biBuf), byte(s.biBuf>>8))
	} else if s.biValid > 0 {
		s.out = append(s.out, byte(s.biBuf))
	}
	s.biBuf, s.biValid = 0, 0
}

func (s *deflater) sendCode(c int, t zTree) { s.sendBits(t.code[c], t.len[c]) }

func (s *deflater) smaller(t zTree, n, m int) bool {
	return t.freq[n] < t.freq[m] || t.freq[n] == t.freq[m] && s.depth[n] <= s.depth[m]
}

func (s *deflater) pqdownheap(t zTree, k int) {
	v := s.heap[k]
	j := k << 1
	for j <= s.heapLen {
		if j < s.heapLen && s.smaller(t, s.heap[j+1], s.heap[j]) {
			j++
		}
		if s.smaller(t, v, s.heap[j]) {
			break
		}
		s.heap[k] = s.heap[j]
		k = j
		j <<= 1
	}
	s.heap[k] = v
}

func (s *deflater) genBitlen(d *zDesc) {
	t := d.tree
	for b := range s.blCount {
		s.blCount[b] = 0
	}
	t.len[s.heap[s.heapMax]] = 0
	overflow := 0
	h := s.heapMax + 1
	for ; h < zHeapSize; h++ {
		n := s.heap[h]
		bits := t.len[t.dad[n]] + 1
		if bits > d.maxLength {
			bits = d.maxLength
			overflow++
		}
		t.len[n] = bits
		if n > d.maxCode {
			continue
		}
		s.blCount[bits]++
		xbits := 0
		if n >= d.extraBase {
			xbits = d.extra[n-d.extraBase]
		}
		f := t.freq[n]
		s.optLen += f * (bits + xbits)
		if d.stree != nil {
			s.staticLen += f * (d.stree.len[n] + xbits)
		}
	}
	if overflow == 0 {
		return
	}
	for overflow > 0 {
		bits := d.maxLength - 1
		for s.blCount[bits] == 0 {
			bits--
		}
		s.blCount[bits]--
		s.blCount[bits+1] += 2
		s.blCount[d.maxLength]--
		overflow -= 2
	}
	for bits := d.maxLength; bits != 0; bits-- {
		n := s.blCount[bits]
		for n != 0 {
			h--
			m := s.heap[h]
			if m > d.maxCode {
				continue
			}
			if t.len[m] != bits {
				s.optLen += (bits - t.len[m]) * t.freq[m]
				t.len[m] = bits
			}
			n--
		}
	}
}

func (s *deflater) buildTree(d *zDesc) {
	t := d.tree
	maxCode := -1
	s.heapLen, s.heapMax = 0, zHeapSize
	for n := 0; n < d.elems; n++ {
		if t.freq[n] != 0 {
			s.heapLen++
			s.heap[s.heapLen] = n
			maxCode = n
			s.depth[n] = 0
		} else {
			t.len[n] = 0
		}
	}
	for s.heapLen < 2 {
		node := 0
		if maxCode < 2 {
			maxCode++
			node = maxCode
		}
		s.heapLen++
		s.heap[s.heapLen] = node
		t.freq[node] = 1
		s.depth[node] = 0
		s.optLen--
		if d.stree != nil {
			s.staticLen -= d.stree.len[node]
		}
	}
	d.maxCode = maxCode
	for n := s.heapLen / 2; n >= 1; n-- {
		s.pqdownheap(t, n)
	}
	node := d.elems
	for {
		n := s.heap[1]
		s.heap[1] = s.heap[s.heapLen]
		s.heapLen--
		s.pqdownheap(t, 1)
		m := s.heap[1]
		s.heapMax--
		s.heap[s.heapMax] = n
		s.heapMax--
		s.heap[s.heapMax] = m
		t.freq[node] = t.freq[n] + t.freq[m]
		s.depth[node] = max(s.depth[n], s.depth[m]) + 1
		t.dad[n], t.dad[m] = node, node
		s.heap[1] = node
		node++
		s.pqdownheap(t, 1)
		if s.heapLen < 2 {
			break
		}
	}
	s.heapMax--
	s.heap[s.heapMax] = s.heap[1]
	s.genBitlen(d)
	zGenCodes(t, maxCode, s.blCount[:])
}

func (s *deflater) scanTree(t zTree, maxCode int) {
	prevlen, nextlen, count := -1, t.len[0], 0
	maxCount, minCount := 7, 4
	if nextlen == 0 {
		maxCount, minCount = 138, 3
	}
	t.len[maxCode+1] = 0xffff
	for n := 0; n <= maxCode; n++ {
		curlen := nextlen
		nextlen = t.len[n+1]
		count++
		if count < maxCount && curlen == nextlen {
			continue
		} else if count < minCount {
			s.blT.freq[curlen] += count
		} else if curlen != 0 {
			if curlen != prevlen {
				s.blT.freq[curlen]++
			}
			s.blT.freq[zRep3_6]++
		} else if count <= 10 {
			s.blT.freq[zRepz3_10]++
		} else {
			s.blT.freq[zRepz11_138]++
		}
		count = 0
		prevlen = curlen
		switch {
		case nextlen == 0:
			maxCount, minCount = 138, 3
		case curlen == nextlen:
			maxCount, minCount = 6, 3
		default:
			maxCount, minCount = 7, 4
		}
	}
}

func (s *deflater) sendTree(t zTree, maxCode int) {
	prevlen, nextlen, count := -1, t.len[0], 0
	maxCount, minCount := 7, 4
	if nextlen == 0 {
		maxCount, minCount = 138, 3
	}
	for n := 0; n <= maxCode; n++ {
		curlen := nextlen
		nextlen = t.len[n+1]
		count++
		if count < maxCount && curlen == nextlen {
			continue
		} else if count < minCount {
			for ; count != 0; count-- {
				s.sendCode(curlen, s.blT)
			}
		} else if curlen != 0 {
			if curlen != prevlen {
				s.sendCode(curlen, s.blT)
				count--
			}
			s.sendCode(zRep3_6, s.blT)
			s.sendBits(count-3, 2)
		} else if count <= 10 {
			s.sendCode(zRepz3_10, s.blT)
			s.sendBits(count-3, 3)
		} else {
			s.sendCode(zRepz11_138, s.blT)
			s.sendBits(count-11, 7)
		}
		count = 0
		prevlen = curlen
		switch {
		case nextlen == 0:
			maxCount, minCount = 138, 3
		case curlen == nextlen:
			maxCount, minCount = 6, 3
		default:
			maxCount, minCount = 7, 4
		}
	}
}

func (s *deflater) buildBLTree() int {
	s.scanTree(s.dynL, s.lDesc.maxCode)
	s.scanTree(s.dynD, s.dDesc.maxCode)
	s.buildTree(&s.blDesc)
	maxBLIndex := zBLCodes - 1
	for ; maxBLIndex >= 3; maxBLIndex-- {
		if s.blT.len[zBLOrder[maxBLIndex]] != 0 {
			break
		}
	}
	s.optLen += 3*(maxBLIndex+1) + 5 + 5 + 4
	return maxBLIndex
}

func (s *deflater) compressBlock(lt, dt zTree) {
	for i := 0; i < len(s.sym); i += 3 {
		dist := int(s.sym[i]) | int(s.sym[i+1])<<8
		lc := int(s.sym[i+2])
		if dist == 0 {
			s.sendCode(lc, lt)
			continue
		}
		code := int(zLengthCode[lc])
		s.sendCode(code+zLiterals+1, lt)
		if extra := zExtraLBits[code]; extra != 0 {
			s.sendBits(lc-zBaseLength[code], extra)
		}
		dist--
		code = zDCode(dist)
		s.sendCode(code, dt)
		if extra := zExtraDBits[code]; extra != 0 {
			s.sendBits(dist-zBaseDist[code], extra)
		}
	}
	s.sendCode(zEndBlock, lt)
}

func (s *deflater) trFlushBlock(buf []byte, haveBuf bool, stored int, last bool) {
	lastBit := 0
	if last {
		lastBit = 1
	}
	s.buildTree(&s.lDesc)
	s.buildTree(&s.dDesc)
	maxBLIndex := s.buildBLTree()
	optLenb := (s.optLen + 3 + 7) >> 3
	staticLenb := (s.staticLen + 3 + 7) >> 3
	if staticLenb <= optLenb {
		optLenb = staticLenb
	}
	switch {
	case stored+4 <= optLenb && haveBuf:
		s.sendBits(0<<1+lastBit, 3)
		s.biWindup()
		s.out = append(s.out, byte(stored), byte(stored>>8), byte(^stored), byte(^stored>>8))
		s.out = append(s.out, buf...)
	case staticLenb == optLenb:
		s.sendBits(1<<1+lastBit, 3)
		s.compressBlock(zStaticL, zStaticD)
	default:
		s.sendBits(2<<1+lastBit, 3)
		lcodes, dcodes, blcodes := s.lDesc.maxCode+1, s.dDesc.maxCode+1, maxBLIndex+1
		s.sendBits(lcodes-257, 5)
		s.sendBits(dcodes-1, 5)
		s.sendBits(blcodes-4, 4)
		for rank := 0; rank < blcodes; rank++ {
			s.sendBits(s.blT.len[zBLOrder[rank]], 3)
		}
		s.sendTree(s.dynL, lcodes-1)
		s.sendTree(s.dynD, dcodes-1)
		s.compressBlock(s.dynL, s.dynD)
	}
	s.initBlock()
	if last {
		s.biWindup()
	}
}

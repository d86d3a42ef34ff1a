;; WebAssembly SIMD kernels of the fused hidden-positive loss (see fused-loss.ts for the algorithm).
;;
;; Assembled by `node tools/build-wasm.mjs` into kernels-wasm.ts; test/fused-kernels.test.ts checks that
;; the committed module is this file assembled.
;;
;; Conventions
;; - One shared linear memory, imported, used by every thread at once; no kernel keeps state.
;; - A matrix is row-major with a row stride `stride` (bytes) and rows zero-padded to `len` bytes, a
;;   multiple of 64 (16 floats): padding adds exact zeros to every dot product.
;; - Row lists hold byte offsets of rows (row · stride) relative to the matrix base, as i32.
;; - Every dot product x · y sums in one fixed order: lane l of a 4-lane accumulator sums the products
;;   of the coordinates k ≡ l (mod 4) in increasing k, then the lanes are added as (l0 + l2) + (l1 + l3).
;;   So x · y and y · x are bit-identical, and equal rows give equal products in every kernel.
(module
  (import "env" "memory" (memory $mem 1 65536 shared))

;; [Σ a, Σ b, Σ c, Σ d] of four accumulators, each lane sum as (l0 + l2) + (l1 + l3).
  (func $sum4 (param $a v128) (param $b v128) (param $c v128) (param $d v128) (result v128)
    (local $u v128) (local $v v128)
    (local.set $u (f32x4.add
      (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a) (local.get $b))
      (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a) (local.get $b))))
    (local.set $v (f32x4.add
      (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $c) (local.get $d))
      (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $c) (local.get $d))))
    ;; u = [a0+a2, b0+b2, a1+a3, b1+b3], v likewise for c, d
    (f32x4.add
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $u) (local.get $v))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $u) (local.get $v))))

  ;; Dot products of the rows at a0..a3 with the rows at b0, b1 over `len` bytes: the 4×2 micro-tile
  ;; of every matrix kernel (8 accumulators, 2 + 4 loads per 16 float ops, fits the 16 SIMD registers).
  ;; Returns column b0 as [a0·b0, a1·b0, a2·b0, a3·b0] and column b1 likewise.
  (func $dot4x2
    (param $a0 i32) (param $a1 i32) (param $a2 i32) (param $a3 i32)
    (param $b0 i32) (param $b1 i32) (param $len i32)
    (result v128 v128)
    (local $k i32) (local $x v128) (local $y0 v128) (local $y1 v128)
    (local $s00 v128) (local $s01 v128) (local $s10 v128) (local $s11 v128)
    (local $s20 v128) (local $s21 v128) (local $s30 v128) (local $s31 v128)
    (loop $next
      (local.set $y0 (v128.load (i32.add (local.get $b0) (local.get $k))))
      (local.set $y1 (v128.load (i32.add (local.get $b1) (local.get $k))))
      (local.set $x (v128.load (i32.add (local.get $a0) (local.get $k))))
      (local.set $s00 (f32x4.add (local.get $s00) (f32x4.mul (local.get $x) (local.get $y0))))
      (local.set $s01 (f32x4.add (local.get $s01) (f32x4.mul (local.get $x) (local.get $y1))))
      (local.set $x (v128.load (i32.add (local.get $a1) (local.get $k))))
      (local.set $s10 (f32x4.add (local.get $s10) (f32x4.mul (local.get $x) (local.get $y0))))
      (local.set $s11 (f32x4.add (local.get $s11) (f32x4.mul (local.get $x) (local.get $y1))))
      (local.set $x (v128.load (i32.add (local.get $a2) (local.get $k))))
      (local.set $s20 (f32x4.add (local.get $s20) (f32x4.mul (local.get $x) (local.get $y0))))
      (local.set $s21 (f32x4.add (local.get $s21) (f32x4.mul (local.get $x) (local.get $y1))))
      (local.set $x (v128.load (i32.add (local.get $a3) (local.get $k))))
      (local.set $s30 (f32x4.add (local.get $s30) (f32x4.mul (local.get $x) (local.get $y0))))
      (local.set $s31 (f32x4.add (local.get $s31) (f32x4.mul (local.get $x) (local.get $y1))))
      (br_if $next (i32.lt_u (local.tee $k (i32.add (local.get $k) (i32.const 16))) (local.get $len))))
    (call $sum4 (local.get $s00) (local.get $s10) (local.get $s20) (local.get $s30))
    (call $sum4 (local.get $s01) (local.get $s11) (local.get $s21) (local.get $s31)))

  ;; Dot products of the row at a with the rows at b0..b3 (1×4 tile, for single anchors), as
  ;; [a·b0, a·b1, a·b2, a·b3], summed in the same order as $dot4x2.
  (func $dot1x4
    (param $a i32) (param $b0 i32) (param $b1 i32) (param $b2 i32) (param $b3 i32) (param $len i32)
    (result v128)
    (local $k i32) (local $x v128) (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (loop $next
      (local.set $x (v128.load (i32.add (local.get $a) (local.get $k))))
      (local.set $s0 (f32x4.add (local.get $s0)
        (f32x4.mul (local.get $x) (v128.load (i32.add (local.get $b0) (local.get $k))))))
      (local.set $s1 (f32x4.add (local.get $s1)
        (f32x4.mul (local.get $x) (v128.load (i32.add (local.get $b1) (local.get $k))))))
      (local.set $s2 (f32x4.add (local.get $s2)
        (f32x4.mul (local.get $x) (v128.load (i32.add (local.get $b2) (local.get $k))))))
      (local.set $s3 (f32x4.add (local.get $s3)
        (f32x4.mul (local.get $x) (v128.load (i32.add (local.get $b3) (local.get $k))))))
      (br_if $next (i32.lt_u (local.tee $k (i32.add (local.get $k) (i32.const 16))) (local.get $len))))
    (call $sum4 (local.get $s0) (local.get $s1) (local.get $s2) (local.get $s3)))

;; The float dot product of the rows at a and b summed exactly as one lane-column of $dot4x2 (the same
  ;; additions in the same order), so it reproduces $dot4x2's value bit for bit.
  (func $dot1 (param $a i32) (param $b i32) (param $len i32) (result f32)
    (local $k i32) (local $s v128)
    (loop $next
      (local.set $s (f32x4.add (local.get $s) (f32x4.mul
        (v128.load (i32.add (local.get $a) (local.get $k))) (v128.load (i32.add (local.get $b) (local.get $k))))))
      (br_if $next (i32.lt_u (local.tee $k (i32.add (local.get $k) (i32.const 16))) (local.get $len))))
    (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $s)) (f32x4.extract_lane 2 (local.get $s)))
      (f32.add (f32x4.extract_lane 1 (local.get $s)) (f32x4.extract_lane 3 (local.get $s)))))

  ;; Integer dot products of int16 rows a0..a3 with rows b0, b1 over `len` bytes (a multiple of 16):
  ;; exact: no partial sum of unit rows quantised to ±32767 exceeds 1.08·10⁹ in a lane, nor a pair of
  ;; products 2³¹ − 1 (none is −32768). Columns as $dot4x2.
  (func $dot4x2q
    (param $a0 i32) (param $a1 i32) (param $a2 i32) (param $a3 i32)
    (param $b0 i32) (param $b1 i32) (param $len i32)
    (result v128 v128)
    (local $k i32) (local $x v128) (local $y0 v128) (local $y1 v128)
    (local $s00 v128) (local $s01 v128) (local $s10 v128) (local $s11 v128)
    (local $s20 v128) (local $s21 v128) (local $s30 v128) (local $s31 v128)
    (loop $next
      (local.set $y0 (v128.load (i32.add (local.get $b0) (local.get $k))))
      (local.set $y1 (v128.load (i32.add (local.get $b1) (local.get $k))))
      (local.set $x (v128.load (i32.add (local.get $a0) (local.get $k))))
      (local.set $s00 (i32x4.add (local.get $s00) (i32x4.dot_i16x8_s (local.get $x) (local.get $y0))))
      (local.set $s01 (i32x4.add (local.get $s01) (i32x4.dot_i16x8_s (local.get $x) (local.get $y1))))
      (local.set $x (v128.load (i32.add (local.get $a1) (local.get $k))))
      (local.set $s10 (i32x4.add (local.get $s10) (i32x4.dot_i16x8_s (local.get $x) (local.get $y0))))
      (local.set $s11 (i32x4.add (local.get $s11) (i32x4.dot_i16x8_s (local.get $x) (local.get $y1))))
      (local.set $x (v128.load (i32.add (local.get $a2) (local.get $k))))
      (local.set $s20 (i32x4.add (local.get $s20) (i32x4.dot_i16x8_s (local.get $x) (local.get $y0))))
      (local.set $s21 (i32x4.add (local.get $s21) (i32x4.dot_i16x8_s (local.get $x) (local.get $y1))))
      (local.set $x (v128.load (i32.add (local.get $a3) (local.get $k))))
      (local.set $s30 (i32x4.add (local.get $s30) (i32x4.dot_i16x8_s (local.get $x) (local.get $y0))))
      (local.set $s31 (i32x4.add (local.get $s31) (i32x4.dot_i16x8_s (local.get $x) (local.get $y1))))
      (br_if $next (i32.lt_u (local.tee $k (i32.add (local.get $k) (i32.const 16))) (local.get $len))))
    (call $isum4 (local.get $s00) (local.get $s10) (local.get $s20) (local.get $s30))
    (call $isum4 (local.get $s01) (local.get $s11) (local.get $s21) (local.get $s31)))

  ;; [Σ a, Σ b, Σ c, Σ d] of four integer accumulators (exact in any order).
  (func $isum4 (param $a v128) (param $b v128) (param $c v128) (param $d v128) (result v128)
    (local $u v128) (local $v v128)
    (local.set $u (i32x4.add
      (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a) (local.get $b))
      (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a) (local.get $b))))
    (local.set $v (i32x4.add
      (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $c) (local.get $d))
      (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $c) (local.get $d))))
    (i32x4.add
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $u) (local.get $v))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $u) (local.get $v))))

  (func $minI (param $a i32) (param $b i32) (result i32)
    (select (local.get $a) (local.get $b) (i32.lt_s (local.get $a) (local.get $b))))

  ;; out[i] = max_q x_i · p_q over the q pool rows, for rows i0 ≤ i < i1 (a strip of ≤ 16 rows, which
  ;; stays in L1 while the pool streams through it two rows at a time). The criterion c of official-behaviour §3.3.
  ;; i0 is a multiple of 4, and out has 3 floats of padding past the last row (the last tile's lanes).
  (func (export "criterion")
    (param $x i32) (param $stride i32) (param $i0 i32) (param $i1 i32)
    (param $pool i32) (param $q i32) (param $len i32) (param $out i32)
    (local $i i32) (local $j i32) (local $t i32) (local $b0 i32) (local $b1 i32) (local $o i32)
    (local $last i32) (local $c0 v128) (local $c1 v128)
    (local.set $last (i32.sub (local.get $i1) (i32.const 1)))
    (local.set $i (local.get $i0))
    (block $done (loop $fill
      (br_if $done (i32.ge_s (local.get $i) (local.get $i1)))
      (v128.store (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 2))) (f32x4.splat (f32.const -inf)))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $fill)))
    (block $poolDone (loop $poolNext
      (br_if $poolDone (i32.ge_s (local.get $j) (local.get $q)))
      (local.set $b0 (i32.add (local.get $pool) (i32.mul (local.get $j) (local.get $stride))))
      (local.set $b1 (i32.add (local.get $pool) (i32.mul
        (call $minI (i32.add (local.get $j) (i32.const 1)) (i32.sub (local.get $q) (i32.const 1)))
        (local.get $stride))))
      (local.set $t (local.get $i0))
      (block $rowsDone (loop $rowsNext
        (br_if $rowsDone (i32.ge_s (local.get $t) (local.get $i1)))
        ;; rows past i1 repeat row i1 − 1; their lanes land in the padding
        (call $dot4x2
          (i32.add (local.get $x) (i32.mul (local.get $t) (local.get $stride)))
          (i32.add (local.get $x) (i32.mul (call $minI (i32.add (local.get $t) (i32.const 1)) (local.get $last)) (local.get $stride)))
          (i32.add (local.get $x) (i32.mul (call $minI (i32.add (local.get $t) (i32.const 2)) (local.get $last)) (local.get $stride)))
          (i32.add (local.get $x) (i32.mul (call $minI (i32.add (local.get $t) (i32.const 3)) (local.get $last)) (local.get $stride)))
          (local.get $b0) (local.get $b1) (local.get $len))
        (local.set $c1) (local.set $c0)
        (local.set $o (i32.add (local.get $out) (i32.shl (local.get $t) (i32.const 2))))
        (v128.store (local.get $o) (f32x4.max (v128.load (local.get $o)) (f32x4.max (local.get $c0) (local.get $c1))))
        (local.set $t (i32.add (local.get $t) (i32.const 4)))
        (br $rowsNext)))
      (local.set $j (i32.add (local.get $j) (i32.const 2)))
      (br $poolNext))))

;; Sets bit j of row i and bit i of row j of the [n, n] bit matrix at `bits`.
  (func $mark (param $i i32) (param $j i32) (param $bits i32) (param $rowBytes i32)
    (drop (i32.atomic.rmw.or
      (i32.add (i32.add (local.get $bits) (i32.mul (local.get $i) (local.get $rowBytes)))
        (i32.shl (i32.shr_u (local.get $j) (i32.const 5)) (i32.const 2)))
      (i32.shl (i32.const 1) (i32.and (local.get $j) (i32.const 31)))))
    (drop (i32.atomic.rmw.or
      (i32.add (i32.add (local.get $bits) (i32.mul (local.get $j) (local.get $rowBytes)))
        (i32.shl (i32.shr_u (local.get $i) (i32.const 5)) (i32.const 2)))
      (i32.shl (i32.const 1) (i32.and (local.get $i) (i32.const 31))))))

  ;; Marks the lanes u of `hits` (pairs (t + u, j)).
  (func $markLanes (param $hits v128) (param $t i32) (param $j i32) (param $bits i32) (param $rowBytes i32)
    (if (i32x4.extract_lane 0 (local.get $hits)) (then (call $mark (local.get $t) (local.get $j) (local.get $bits) (local.get $rowBytes))))
    (if (i32x4.extract_lane 1 (local.get $hits)) (then (call $mark (i32.add (local.get $t) (i32.const 1)) (local.get $j) (local.get $bits) (local.get $rowBytes))))
    (if (i32x4.extract_lane 2 (local.get $hits)) (then (call $mark (i32.add (local.get $t) (i32.const 2)) (local.get $j) (local.get $bits) (local.get $rowBytes))))
    (if (i32x4.extract_lane 3 (local.get $hits)) (then (call $mark (i32.add (local.get $t) (i32.const 3)) (local.get $j) (local.get $bits) (local.get $rowBytes)))))

  ;; The positive pairs (i, j) of rows i0 ≤ i < i1 (a strip of ≤ 16 rows, i0 a multiple of 4) and columns
  ;; j0 ≤ j < j1 with j > i, positive when x_i · x_j > min(c_i, c_j) (the official strict `Rpoint < cossim`
  ;; of either side). Each similarity is computed once and marks both (i, j) and (j, i), so the bit matrix
  ;; is exactly symmetric; the test runs on 4 rows at once and only hits (rare) take the scalar path. The
  ;; caller tiles the upper triangle so that the column block [j0, j1) stays in L2; c has 3 floats of
  ;; padding past the last row.
  (func (export "join")
    (param $x i32) (param $stride i32) (param $i0 i32) (param $i1 i32) (param $j0 i32) (param $j1 i32)
    (param $c i32) (param $bits i32) (param $rowBytes i32) (param $len i32)
    (local $j i32) (local $jb i32) (local $t i32) (local $last i32)
    (local $c0 v128) (local $c1 v128) (local $rows v128) (local $inStrip v128) (local $cRows v128)
    (local $hit0 v128) (local $hit1 v128)
    (local.set $last (i32.sub (local.get $i1) (i32.const 1)))
    (local.set $j (local.get $j0))
    (if (i32.lt_s (local.get $j) (i32.add (local.get $i0) (i32.const 1)))
      (then (local.set $j (i32.add (local.get $i0) (i32.const 1)))))
    (block $colsDone (loop $colsNext
      (br_if $colsDone (i32.ge_s (local.get $j) (local.get $j1)))
      (local.set $jb (call $minI (i32.add (local.get $j) (i32.const 1)) (i32.sub (local.get $j1) (i32.const 1))))
      (local.set $t (local.get $i0))
      (block $rowsDone (loop $rowsNext
        ;; rows only grow along the strip: once the first row of a tile is ≥ jb, no pair of it has i < j
        (br_if $rowsDone (i32.or (i32.ge_s (local.get $t) (local.get $i1)) (i32.ge_s (local.get $t) (local.get $jb))))
        (call $dot4x2
          (i32.add (local.get $x) (i32.mul (local.get $t) (local.get $stride)))
          (i32.add (local.get $x) (i32.mul (call $minI (i32.add (local.get $t) (i32.const 1)) (local.get $last)) (local.get $stride)))
          (i32.add (local.get $x) (i32.mul (call $minI (i32.add (local.get $t) (i32.const 2)) (local.get $last)) (local.get $stride)))
          (i32.add (local.get $x) (i32.mul (call $minI (i32.add (local.get $t) (i32.const 3)) (local.get $last)) (local.get $stride)))
          (i32.add (local.get $x) (i32.mul (local.get $j) (local.get $stride)))
          (i32.add (local.get $x) (i32.mul (local.get $jb) (local.get $stride)))
          (local.get $len))
        (local.set $c1) (local.set $c0)
        (local.set $rows (i32x4.add (i32x4.splat (local.get $t)) (v128.const i32x4 0 1 2 3)))
        (local.set $inStrip (i32x4.lt_s (local.get $rows) (i32x4.splat (local.get $i1))))
        (local.set $cRows (v128.load (i32.add (local.get $c) (i32.shl (local.get $t) (i32.const 2)))))
        (local.set $hit0 (v128.and (v128.and (local.get $inStrip)
            (i32x4.lt_s (local.get $rows) (i32x4.splat (local.get $j))))
          (f32x4.gt (local.get $c0) (f32x4.min (local.get $cRows)
            (f32x4.splat (f32.load (i32.add (local.get $c) (i32.shl (local.get $j) (i32.const 2)))))))))
        (local.set $hit1 (v128.and (v128.and (local.get $inStrip)
            (i32x4.lt_s (local.get $rows) (i32x4.splat (local.get $jb))))
          (f32x4.gt (local.get $c1) (f32x4.min (local.get $cRows)
            (f32x4.splat (f32.load (i32.add (local.get $c) (i32.shl (local.get $jb) (i32.const 2)))))))))
        ;; a repeated column (jb = j) marks the same pairs twice: OR is idempotent
        (if (v128.any_true (v128.or (local.get $hit0) (local.get $hit1)))
          (then
            (call $markLanes (local.get $hit0) (local.get $t) (local.get $j) (local.get $bits) (local.get $rowBytes))
            (call $markLanes (local.get $hit1) (local.get $t) (local.get $jb) (local.get $bits) (local.get $rowBytes))))
        (local.set $t (i32.add (local.get $t) (i32.const 4)))
        (br $rowsNext)))
      (local.set $j (i32.add (local.get $j) (i32.const 2)))
      (br $colsNext))))

;; Marks the lanes u of `hits` (pairs (i, j + u)).
  (func $markCols (param $hits v128) (param $i i32) (param $j i32) (param $bits i32) (param $rowBytes i32)
    (if (i32x4.extract_lane 0 (local.get $hits)) (then (call $mark (local.get $i) (local.get $j) (local.get $bits) (local.get $rowBytes))))
    (if (i32x4.extract_lane 1 (local.get $hits)) (then (call $mark (local.get $i) (i32.add (local.get $j) (i32.const 1)) (local.get $bits) (local.get $rowBytes))))
    (if (i32x4.extract_lane 2 (local.get $hits)) (then (call $mark (local.get $i) (i32.add (local.get $j) (i32.const 2)) (local.get $bits) (local.get $rowBytes))))
    (if (i32x4.extract_lane 3 (local.get $hits)) (then (call $mark (local.get $i) (i32.add (local.get $j) (i32.const 3)) (local.get $bits) (local.get $rowBytes)))))

  ;; The positive pairs of a block of similarities computed elsewhere (the host product's x[i0:] @ x[i0:]ᵀ
  ;; rows): for rows i = i0 + r, r0 ≤ r < r1, and columns i < j < n, pair (i, j) is positive when
  ;; sims[r·width + j − i0] > min(c_i, c_j) (the same strict test as `join`), marked at (i, j) and (j, i)
  ;; with atomic ORs, so threads may share a block. Four columns per test; `sims` and `c` have 3 floats of
  ;; padding past their ends (lanes past n are masked).
  (func (export "threshold")
    (param $sims i32) (param $width i32) (param $i0 i32) (param $r0 i32) (param $r1 i32) (param $n i32)
    (param $c i32) (param $bits i32) (param $rowBytes i32)
    (local $r i32) (local $i i32) (local $j i32) (local $row i32) (local $ci v128) (local $hits v128)
    (local.set $r (local.get $r0))
    (block $rowsDone (loop $rowsNext
      (br_if $rowsDone (i32.ge_s (local.get $r) (local.get $r1)))
      (local.set $i (i32.add (local.get $i0) (local.get $r)))
      (local.set $ci (v128.load32_splat (i32.add (local.get $c) (i32.shl (local.get $i) (i32.const 2)))))
      ;; the similarity of column j lies at row + 4j (the offset wraps below zero for r·width < i0; the sum does not)
      (local.set $row (i32.add (local.get $sims)
        (i32.shl (i32.sub (i32.mul (local.get $r) (local.get $width)) (local.get $i0)) (i32.const 2))))
      (local.set $j (i32.add (local.get $i) (i32.const 1)))
      (block $colsDone (loop $colsNext
        (br_if $colsDone (i32.ge_s (local.get $j) (local.get $n)))
        (local.set $hits (v128.and
          (f32x4.gt (v128.load (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))
            (f32x4.min (local.get $ci) (v128.load (i32.add (local.get $c) (i32.shl (local.get $j) (i32.const 2))))))
          (i32x4.lt_s (i32x4.add (i32x4.splat (local.get $j)) (v128.const i32x4 0 1 2 3)) (i32x4.splat (local.get $n)))))
        (if (v128.any_true (local.get $hits))
          (then (call $markCols (local.get $hits) (local.get $i) (local.get $j) (local.get $bits) (local.get $rowBytes))))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $colsNext)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rowsNext))))

  ;; out[r] = max_k sims[r·q + k] for r0 ≤ r < r1 (the criteria from a block of host-product similarities;
  ;; q ≥ 1, no padding needed: the last < 4 columns of a row are taken one at a time).
  (func (export "rowMax")
    (param $sims i32) (param $q i32) (param $r0 i32) (param $r1 i32) (param $out i32)
    (local $r i32) (local $p i32) (local $end i32) (local $end4 i32) (local $m v128) (local $best f32)
    (local.set $r (local.get $r0))
    (block $rowsDone (loop $rowsNext
      (br_if $rowsDone (i32.ge_s (local.get $r) (local.get $r1)))
      (local.set $p (i32.add (local.get $sims) (i32.shl (i32.mul (local.get $r) (local.get $q)) (i32.const 2))))
      (local.set $end (i32.add (local.get $p) (i32.shl (local.get $q) (i32.const 2))))
      (local.set $end4 (i32.add (local.get $p) (i32.shl (i32.and (local.get $q) (i32.const -4)) (i32.const 2))))
      (local.set $m (f32x4.splat (f32.const -inf)))
      (block $quadsDone (loop $quadsNext
        (br_if $quadsDone (i32.ge_u (local.get $p) (local.get $end4)))
        (local.set $m (f32x4.max (local.get $m) (v128.load (local.get $p))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $quadsNext)))
      (local.set $best (f32.max
        (f32.max (f32x4.extract_lane 0 (local.get $m)) (f32x4.extract_lane 1 (local.get $m)))
        (f32.max (f32x4.extract_lane 2 (local.get $m)) (f32x4.extract_lane 3 (local.get $m)))))
      (block $restDone (loop $restNext
        (br_if $restDone (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $best (f32.max (local.get $best) (f32.load (local.get $p))))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (br $restNext)))
      (f32.store (i32.add (local.get $out) (i32.shl (local.get $r) (i32.const 2))) (local.get $best))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rowsNext))))

  ;; Raises out[t + u] to the float dot product of row t + u with the pool row at b, for the candidate
  ;; lanes u of `cand`.
  (func $maxExact (param $cand v128) (param $t i32) (param $b i32) (param $x i32) (param $stride i32)
    (param $len i32) (param $out i32)
    (local $u i32) (local $o i32)
    (loop $lanes
      (if (i32.ne (i32.const 0) (i32x4.extract_lane 0 (local.get $cand)))
        (then
          (local.set $o (i32.add (local.get $out) (i32.shl (i32.add (local.get $t) (local.get $u)) (i32.const 2))))
          (f32.store (local.get $o) (f32.max (f32.load (local.get $o))
            (call $dot1 (i32.add (local.get $x) (i32.mul (i32.add (local.get $t) (local.get $u)) (local.get $stride)))
              (local.get $b) (local.get $len))))))
      (local.set $cand (i8x16.shuffle 4 5 6 7 8 9 10 11 12 13 14 15 0 1 2 3 (local.get $cand) (local.get $cand)))
      (br_if $lanes (i32.lt_u (local.tee $u (i32.add (local.get $u) (i32.const 1))) (i32.const 4)))))

  ;; `criterion` with the dot products first computed exactly in integers on int16 copies (xq rows of
  ;; the strip, pq pool rows; strides qStride): `approx` keeps each row's running maximum of the
  ;; approximations, and a pool row is evaluated in float ($dot1, equal to $dot4x2's value) only when its
  ;; approximation is ≥ that running maximum − 2·eps. The float maximum's row always is: its
  ;; approximation is ≥ (its float value − eps) ≥ (the largest approximation − 2·eps). So out[i] is
  ;; exactly `criterion`'s value; approx has the same padding as out.
  (func (export "criterionQuantized")
    (param $xq i32) (param $pq i32) (param $qStride i32) (param $x i32) (param $pool i32) (param $stride i32)
    (param $len i32) (param $i0 i32) (param $i1 i32) (param $q i32) (param $out i32) (param $approx i32)
    (param $eps f32)
    (local $i i32) (local $j i32) (local $t i32) (local $jb i32) (local $o i32) (local $last i32)
    (local $c0 v128) (local $c1 v128) (local $run v128) (local $floor v128) (local $inStrip v128)
    (local $cand0 v128) (local $cand1 v128) (local $unit v128) (local $twoEps v128)
    (local.set $unit (f32x4.splat (f32.const 9.313794206365304e-10))) ;; 1 / 32767²
    (local.set $twoEps (f32x4.splat (f32.mul (f32.const 2) (local.get $eps))))
    (local.set $last (i32.sub (local.get $i1) (i32.const 1)))
    (local.set $i (local.get $i0))
    (block $done (loop $fill
      (br_if $done (i32.ge_s (local.get $i) (local.get $i1)))
      (v128.store (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 2))) (f32x4.splat (f32.const -inf)))
      (v128.store (i32.add (local.get $approx) (i32.shl (local.get $i) (i32.const 2))) (f32x4.splat (f32.const -inf)))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $fill)))
    (block $poolDone (loop $poolNext
      (br_if $poolDone (i32.ge_s (local.get $j) (local.get $q)))
      (local.set $jb (call $minI (i32.add (local.get $j) (i32.const 1)) (i32.sub (local.get $q) (i32.const 1))))
      (local.set $t (local.get $i0))
      (block $rowsDone (loop $rowsNext
        (br_if $rowsDone (i32.ge_s (local.get $t) (local.get $i1)))
        (call $dot4x2q
          (i32.add (local.get $xq) (i32.mul (local.get $t) (local.get $qStride)))
          (i32.add (local.get $xq) (i32.mul (call $minI (i32.add (local.get $t) (i32.const 1)) (local.get $last)) (local.get $qStride)))
          (i32.add (local.get $xq) (i32.mul (call $minI (i32.add (local.get $t) (i32.const 2)) (local.get $last)) (local.get $qStride)))
          (i32.add (local.get $xq) (i32.mul (call $minI (i32.add (local.get $t) (i32.const 3)) (local.get $last)) (local.get $qStride)))
          (i32.add (local.get $pq) (i32.mul (local.get $j) (local.get $qStride)))
          (i32.add (local.get $pq) (i32.mul (local.get $jb) (local.get $qStride)))
          (local.get $qStride))
        (local.set $c1) (local.set $c0)
        (local.set $c0 (f32x4.mul (f32x4.convert_i32x4_s (local.get $c0)) (local.get $unit)))
        (local.set $c1 (f32x4.mul (f32x4.convert_i32x4_s (local.get $c1)) (local.get $unit)))
        (local.set $o (i32.add (local.get $approx) (i32.shl (local.get $t) (i32.const 2))))
        (local.set $run (v128.load (local.get $o)))
        (local.set $floor (f32x4.sub (local.get $run) (local.get $twoEps)))
        (local.set $inStrip (i32x4.lt_s (i32x4.add (i32x4.splat (local.get $t)) (v128.const i32x4 0 1 2 3))
          (i32x4.splat (local.get $i1))))
        (local.set $cand0 (v128.and (local.get $inStrip) (f32x4.ge (local.get $c0) (local.get $floor))))
        (local.set $cand1 (v128.and (local.get $inStrip) (f32x4.ge (local.get $c1) (local.get $floor))))
        (v128.store (local.get $o) (f32x4.max (local.get $run) (f32x4.max (local.get $c0) (local.get $c1))))
        (if (v128.any_true (v128.or (local.get $cand0) (local.get $cand1)))
          (then
            (call $maxExact (local.get $cand0) (local.get $t)
              (i32.add (local.get $pool) (i32.mul (local.get $j) (local.get $stride)))
              (local.get $x) (local.get $stride) (local.get $len) (local.get $out))
            (call $maxExact (local.get $cand1) (local.get $t)
              (i32.add (local.get $pool) (i32.mul (local.get $jb) (local.get $stride)))
              (local.get $x) (local.get $stride) (local.get $len) (local.get $out))))
        (local.set $t (i32.add (local.get $t) (i32.const 4)))
        (br $rowsNext)))
      (local.set $j (i32.add (local.get $j) (i32.const 2)))
      (br $poolNext))))

  ;; Marks the candidate lanes u of `cand` (pairs (t + u, j)) that pass the exact float test.
  (func $markExact (param $cand v128) (param $t i32) (param $j i32) (param $x i32) (param $stride i32)
    (param $len i32) (param $c i32) (param $bits i32) (param $rowBytes i32)
    (local $u i32) (local $i i32)
    (loop $lanes
      (if (i32.ne (i32.const 0) (i32x4.extract_lane 0 (local.get $cand)))
        (then
          (local.set $i (i32.add (local.get $t) (local.get $u)))
          (if (f32.gt
                (call $dot1 (i32.add (local.get $x) (i32.mul (local.get $i) (local.get $stride)))
                  (i32.add (local.get $x) (i32.mul (local.get $j) (local.get $stride))) (local.get $len))
                (f32.min (f32.load (i32.add (local.get $c) (i32.shl (local.get $i) (i32.const 2))))
                  (f32.load (i32.add (local.get $c) (i32.shl (local.get $j) (i32.const 2))))))
            (then (call $mark (local.get $i) (local.get $j) (local.get $bits) (local.get $rowBytes))))))
      ;; next lane into lane 0
      (local.set $cand (i8x16.shuffle 4 5 6 7 8 9 10 11 12 13 14 15 0 1 2 3 (local.get $cand) (local.get $cand)))
      (br_if $lanes (i32.lt_u (local.tee $u (i32.add (local.get $u) (i32.const 1))) (i32.const 4)))))

  ;; `join` with the similarities first computed exactly in integers on int16 copies of the rows
  ;; (xq: x_k · 32767 rounded, stride qStride, qLen bytes): twice the multiply-adds per instruction of
  ;; float32 and half the bytes. A pair can be positive only if its approximation exceeds
  ;; min(c_i, c_j) − eps (eps bounds |approximation − float dot product|, see fused-loss.ts); those few
  ;; candidates are decided by the float dot product of $dot1, equal to $dot4x2's, so the bits are
  ;; exactly those of `join`.
  (func (export "joinQuantized")
    (param $xq i32) (param $qStride i32) (param $qLen i32) (param $x i32) (param $stride i32) (param $len i32)
    (param $i0 i32) (param $i1 i32) (param $j0 i32) (param $j1 i32)
    (param $c i32) (param $bits i32) (param $rowBytes i32) (param $eps f32)
    (local $j i32) (local $jb i32) (local $t i32) (local $last i32)
    (local $c0 v128) (local $c1 v128) (local $rows v128) (local $inStrip v128) (local $cRows v128)
    (local $hit0 v128) (local $hit1 v128) (local $unit v128) (local $epsv v128)
    (local.set $unit (f32x4.splat (f32.const 9.313794206365304e-10))) ;; 1 / 32767²
    (local.set $epsv (f32x4.splat (local.get $eps)))
    (local.set $last (i32.sub (local.get $i1) (i32.const 1)))
    (local.set $j (local.get $j0))
    (if (i32.lt_s (local.get $j) (i32.add (local.get $i0) (i32.const 1)))
      (then (local.set $j (i32.add (local.get $i0) (i32.const 1)))))
    (block $colsDone (loop $colsNext
      (br_if $colsDone (i32.ge_s (local.get $j) (local.get $j1)))
      (local.set $jb (call $minI (i32.add (local.get $j) (i32.const 1)) (i32.sub (local.get $j1) (i32.const 1))))
      (local.set $t (local.get $i0))
      (block $rowsDone (loop $rowsNext
        (br_if $rowsDone (i32.or (i32.ge_s (local.get $t) (local.get $i1)) (i32.ge_s (local.get $t) (local.get $jb))))
        (call $dot4x2q
          (i32.add (local.get $xq) (i32.mul (local.get $t) (local.get $qStride)))
          (i32.add (local.get $xq) (i32.mul (call $minI (i32.add (local.get $t) (i32.const 1)) (local.get $last)) (local.get $qStride)))
          (i32.add (local.get $xq) (i32.mul (call $minI (i32.add (local.get $t) (i32.const 2)) (local.get $last)) (local.get $qStride)))
          (i32.add (local.get $xq) (i32.mul (call $minI (i32.add (local.get $t) (i32.const 3)) (local.get $last)) (local.get $qStride)))
          (i32.add (local.get $xq) (i32.mul (local.get $j) (local.get $qStride)))
          (i32.add (local.get $xq) (i32.mul (local.get $jb) (local.get $qStride)))
          (local.get $qLen))
        (local.set $c1) (local.set $c0)
        (local.set $rows (i32x4.add (i32x4.splat (local.get $t)) (v128.const i32x4 0 1 2 3)))
        (local.set $inStrip (i32x4.lt_s (local.get $rows) (i32x4.splat (local.get $i1))))
        (local.set $cRows (f32x4.sub (v128.load (i32.add (local.get $c) (i32.shl (local.get $t) (i32.const 2)))) (local.get $epsv)))
        (local.set $hit0 (v128.and (v128.and (local.get $inStrip)
            (i32x4.lt_s (local.get $rows) (i32x4.splat (local.get $j))))
          (f32x4.gt (f32x4.mul (f32x4.convert_i32x4_s (local.get $c0)) (local.get $unit))
            (f32x4.min (local.get $cRows) (f32x4.sub
              (f32x4.splat (f32.load (i32.add (local.get $c) (i32.shl (local.get $j) (i32.const 2))))) (local.get $epsv))))))
        (local.set $hit1 (v128.and (v128.and (local.get $inStrip)
            (i32x4.lt_s (local.get $rows) (i32x4.splat (local.get $jb))))
          (f32x4.gt (f32x4.mul (f32x4.convert_i32x4_s (local.get $c1)) (local.get $unit))
            (f32x4.min (local.get $cRows) (f32x4.sub
              (f32x4.splat (f32.load (i32.add (local.get $c) (i32.shl (local.get $jb) (i32.const 2))))) (local.get $epsv))))))
        (if (v128.any_true (v128.or (local.get $hit0) (local.get $hit1)))
          (then
            (call $markExact (local.get $hit0) (local.get $t) (local.get $j) (local.get $x) (local.get $stride)
              (local.get $len) (local.get $c) (local.get $bits) (local.get $rowBytes))
            (call $markExact (local.get $hit1) (local.get $t) (local.get $jb) (local.get $x) (local.get $stride)
              (local.get $len) (local.get $c) (local.get $bits) (local.get $rowBytes))))
        (local.set $t (i32.add (local.get $t) (i32.const 4)))
        (br $rowsNext)))
      (local.set $j (i32.add (local.get $j) (i32.const 2)))
      (br $colsNext))))

  ;; out[a·m + b] = scale · (x + ia[a]) · (x + ib[b]) for a < na, b < m: sampled logits of a group of
  ;; anchors against a list of columns. Columns two at a time, all anchors (≤ 64 rows, in L1/L2) each.
  (func (export "dotsIndexed")
    (param $x i32) (param $ia i32) (param $na i32) (param $ib i32) (param $m i32)
    (param $len i32) (param $out i32) (param $scale f32)
    (local $b i32) (local $bb i32) (local $a i32) (local $p0 i32) (local $p1 i32)
    (local $r0 i32) (local $r1 i32) (local $r2 i32) (local $r3 i32) (local $rowBytes i32)
    (local $c0 v128) (local $c1 v128)
    (local.set $rowBytes (i32.shl (local.get $m) (i32.const 2)))
    (block $colsDone (loop $colsNext
      (br_if $colsDone (i32.ge_s (local.get $b) (local.get $m)))
      (local.set $bb (call $minI (i32.add (local.get $b) (i32.const 1)) (i32.sub (local.get $m) (i32.const 1))))
      (local.set $p0 (i32.add (local.get $x) (i32.load (i32.add (local.get $ib) (i32.shl (local.get $b) (i32.const 2))))))
      (local.set $p1 (i32.add (local.get $x) (i32.load (i32.add (local.get $ib) (i32.shl (local.get $bb) (i32.const 2))))))
      (local.set $a (i32.const 0))
      (block $rowsDone (loop $rowsNext
        (br_if $rowsDone (i32.ge_s (local.get $a) (local.get $na)))
        (local.set $r0 (local.get $a))
        (local.set $r1 (call $minI (i32.add (local.get $a) (i32.const 1)) (i32.sub (local.get $na) (i32.const 1))))
        (local.set $r2 (call $minI (i32.add (local.get $a) (i32.const 2)) (i32.sub (local.get $na) (i32.const 1))))
        (local.set $r3 (call $minI (i32.add (local.get $a) (i32.const 3)) (i32.sub (local.get $na) (i32.const 1))))
        (call $dot4x2
          (i32.add (local.get $x) (i32.load (i32.add (local.get $ia) (i32.shl (local.get $r0) (i32.const 2)))))
          (i32.add (local.get $x) (i32.load (i32.add (local.get $ia) (i32.shl (local.get $r1) (i32.const 2)))))
          (i32.add (local.get $x) (i32.load (i32.add (local.get $ia) (i32.shl (local.get $r2) (i32.const 2)))))
          (i32.add (local.get $x) (i32.load (i32.add (local.get $ia) (i32.shl (local.get $r3) (i32.const 2)))))
          (local.get $p0) (local.get $p1) (local.get $len))
        (local.set $c1) (local.set $c0)
        (local.set $c0 (f32x4.mul (local.get $c0) (f32x4.splat (local.get $scale))))
        (local.set $c1 (f32x4.mul (local.get $c1) (f32x4.splat (local.get $scale))))
        ;; repeated rows and columns store the same values again
        (f32.store (i32.add (i32.add (local.get $out) (i32.mul (local.get $r0) (local.get $rowBytes))) (i32.shl (local.get $b) (i32.const 2))) (f32x4.extract_lane 0 (local.get $c0)))
        (f32.store (i32.add (i32.add (local.get $out) (i32.mul (local.get $r0) (local.get $rowBytes))) (i32.shl (local.get $bb) (i32.const 2))) (f32x4.extract_lane 0 (local.get $c1)))
        (f32.store (i32.add (i32.add (local.get $out) (i32.mul (local.get $r1) (local.get $rowBytes))) (i32.shl (local.get $b) (i32.const 2))) (f32x4.extract_lane 1 (local.get $c0)))
        (f32.store (i32.add (i32.add (local.get $out) (i32.mul (local.get $r1) (local.get $rowBytes))) (i32.shl (local.get $bb) (i32.const 2))) (f32x4.extract_lane 1 (local.get $c1)))
        (f32.store (i32.add (i32.add (local.get $out) (i32.mul (local.get $r2) (local.get $rowBytes))) (i32.shl (local.get $b) (i32.const 2))) (f32x4.extract_lane 2 (local.get $c0)))
        (f32.store (i32.add (i32.add (local.get $out) (i32.mul (local.get $r2) (local.get $rowBytes))) (i32.shl (local.get $bb) (i32.const 2))) (f32x4.extract_lane 2 (local.get $c1)))
        (f32.store (i32.add (i32.add (local.get $out) (i32.mul (local.get $r3) (local.get $rowBytes))) (i32.shl (local.get $b) (i32.const 2))) (f32x4.extract_lane 3 (local.get $c0)))
        (f32.store (i32.add (i32.add (local.get $out) (i32.mul (local.get $r3) (local.get $rowBytes))) (i32.shl (local.get $bb) (i32.const 2))) (f32x4.extract_lane 3 (local.get $c1)))
        (local.set $a (i32.add (local.get $a) (i32.const 4)))
        (br $rowsNext)))
      (local.set $b (i32.add (local.get $b) (i32.const 2)))
      (br $colsNext))))

  ;; out[b] = scale · (x + a) · (x + ib[b]) for b < m: one anchor against its own columns.
  (func (export "dotsRow")
    (param $x i32) (param $a i32) (param $ib i32) (param $m i32) (param $len i32) (param $out i32)
    (param $scale f32)
    (local $b i32) (local $last i32) (local $q0 i32) (local $q1 i32) (local $q2 i32) (local $q3 i32)
    (local $v v128)
    (local.set $last (i32.sub (local.get $m) (i32.const 1)))
    (block $done (loop $next
      (br_if $done (i32.ge_s (local.get $b) (local.get $m)))
      (local.set $q0 (local.get $b))
      (local.set $q1 (call $minI (i32.add (local.get $b) (i32.const 1)) (local.get $last)))
      (local.set $q2 (call $minI (i32.add (local.get $b) (i32.const 2)) (local.get $last)))
      (local.set $q3 (call $minI (i32.add (local.get $b) (i32.const 3)) (local.get $last)))
      (call $dot1x4 (i32.add (local.get $x) (local.get $a))
        (i32.add (local.get $x) (i32.load (i32.add (local.get $ib) (i32.shl (local.get $q0) (i32.const 2)))))
        (i32.add (local.get $x) (i32.load (i32.add (local.get $ib) (i32.shl (local.get $q1) (i32.const 2)))))
        (i32.add (local.get $x) (i32.load (i32.add (local.get $ib) (i32.shl (local.get $q2) (i32.const 2)))))
        (i32.add (local.get $x) (i32.load (i32.add (local.get $ib) (i32.shl (local.get $q3) (i32.const 2)))))
        (local.get $len))
      (local.set $v (f32x4.mul (f32x4.splat (local.get $scale))))
      (f32.store (i32.add (local.get $out) (i32.shl (local.get $q0) (i32.const 2))) (f32x4.extract_lane 0 (local.get $v)))
      (f32.store (i32.add (local.get $out) (i32.shl (local.get $q1) (i32.const 2))) (f32x4.extract_lane 1 (local.get $v)))
      (f32.store (i32.add (local.get $out) (i32.shl (local.get $q2) (i32.const 2))) (f32x4.extract_lane 2 (local.get $v)))
      (f32.store (i32.add (local.get $out) (i32.shl (local.get $q3) (i32.const 2))) (f32x4.extract_lane 3 (local.get $v)))
      (local.set $b (i32.add (local.get $b) (i32.const 4)))
      (br $next))))

  ;; acc + ia[a] += Σ_b g[a·gRow + b] · (x + ib[b]) for a < na, b < m (g rows gRow floats apart): the
  ;; anchors' gradient rows, dL/dx_i = Σ_j g_ij x_j. 8 floats of 4 anchors stay in registers while the
  ;; columns stream; the caller passes ≤ 128 columns at a time so that their rows stay in L2.
  (func (export "gradRows")
    (param $x i32) (param $ia i32) (param $na i32) (param $ib i32) (param $m i32)
    (param $len i32) (param $g i32) (param $acc i32) (param $gRow i32)
    (local $a i32) (local $off i32) (local $b i32) (local $p i32) (local $gb i32) (local $rowBytes i32)
    (local $y0 v128) (local $y1 v128) (local $s v128)
    (local $u00 v128) (local $u01 v128) (local $u10 v128) (local $u11 v128)
    (local $u20 v128) (local $u21 v128) (local $u30 v128) (local $u31 v128)
    (local $o0 i32) (local $o1 i32) (local $o2 i32) (local $o3 i32)
    (local.set $rowBytes (i32.shl (local.get $gRow) (i32.const 2)))
    ;; four anchors at a time
    (block $quadsDone (loop $quadsNext
      (br_if $quadsDone (i32.gt_s (i32.add (local.get $a) (i32.const 4)) (local.get $na)))
      (local.set $o0 (i32.add (local.get $acc) (i32.load (i32.add (local.get $ia) (i32.shl (local.get $a) (i32.const 2))))))
      (local.set $o1 (i32.add (local.get $acc) (i32.load offset=4 (i32.add (local.get $ia) (i32.shl (local.get $a) (i32.const 2))))))
      (local.set $o2 (i32.add (local.get $acc) (i32.load offset=8 (i32.add (local.get $ia) (i32.shl (local.get $a) (i32.const 2))))))
      (local.set $o3 (i32.add (local.get $acc) (i32.load offset=12 (i32.add (local.get $ia) (i32.shl (local.get $a) (i32.const 2))))))
      (local.set $off (i32.const 0))
      (block $chunksDone (loop $chunksNext
        (br_if $chunksDone (i32.ge_u (local.get $off) (local.get $len)))
        (local.set $u00 (v128.const i32x4 0 0 0 0)) (local.set $u01 (v128.const i32x4 0 0 0 0))
        (local.set $u10 (v128.const i32x4 0 0 0 0)) (local.set $u11 (v128.const i32x4 0 0 0 0))
        (local.set $u20 (v128.const i32x4 0 0 0 0)) (local.set $u21 (v128.const i32x4 0 0 0 0))
        (local.set $u30 (v128.const i32x4 0 0 0 0)) (local.set $u31 (v128.const i32x4 0 0 0 0))
        (local.set $b (i32.const 0))
        (block $colsDone (loop $colsNext
          (br_if $colsDone (i32.ge_s (local.get $b) (local.get $m)))
          (local.set $p (i32.add (i32.add (local.get $x) (local.get $off))
            (i32.load (i32.add (local.get $ib) (i32.shl (local.get $b) (i32.const 2))))))
          (local.set $y0 (v128.load (local.get $p)))
          (local.set $y1 (v128.load offset=16 (local.get $p)))
          (local.set $gb (i32.add (i32.add (local.get $g) (i32.mul (local.get $a) (local.get $rowBytes)))
            (i32.shl (local.get $b) (i32.const 2))))
          (local.set $s (v128.load32_splat (local.get $gb)))
          (local.set $u00 (f32x4.add (local.get $u00) (f32x4.mul (local.get $s) (local.get $y0))))
          (local.set $u01 (f32x4.add (local.get $u01) (f32x4.mul (local.get $s) (local.get $y1))))
          (local.set $gb (i32.add (local.get $gb) (local.get $rowBytes)))
          (local.set $s (v128.load32_splat (local.get $gb)))
          (local.set $u10 (f32x4.add (local.get $u10) (f32x4.mul (local.get $s) (local.get $y0))))
          (local.set $u11 (f32x4.add (local.get $u11) (f32x4.mul (local.get $s) (local.get $y1))))
          (local.set $gb (i32.add (local.get $gb) (local.get $rowBytes)))
          (local.set $s (v128.load32_splat (local.get $gb)))
          (local.set $u20 (f32x4.add (local.get $u20) (f32x4.mul (local.get $s) (local.get $y0))))
          (local.set $u21 (f32x4.add (local.get $u21) (f32x4.mul (local.get $s) (local.get $y1))))
          (local.set $gb (i32.add (local.get $gb) (local.get $rowBytes)))
          (local.set $s (v128.load32_splat (local.get $gb)))
          (local.set $u30 (f32x4.add (local.get $u30) (f32x4.mul (local.get $s) (local.get $y0))))
          (local.set $u31 (f32x4.add (local.get $u31) (f32x4.mul (local.get $s) (local.get $y1))))
          (local.set $b (i32.add (local.get $b) (i32.const 1)))
          (br $colsNext)))
        (local.set $p (i32.add (local.get $o0) (local.get $off)))
        (v128.store (local.get $p) (f32x4.add (v128.load (local.get $p)) (local.get $u00)))
        (v128.store offset=16 (local.get $p) (f32x4.add (v128.load offset=16 (local.get $p)) (local.get $u01)))
        (local.set $p (i32.add (local.get $o1) (local.get $off)))
        (v128.store (local.get $p) (f32x4.add (v128.load (local.get $p)) (local.get $u10)))
        (v128.store offset=16 (local.get $p) (f32x4.add (v128.load offset=16 (local.get $p)) (local.get $u11)))
        (local.set $p (i32.add (local.get $o2) (local.get $off)))
        (v128.store (local.get $p) (f32x4.add (v128.load (local.get $p)) (local.get $u20)))
        (v128.store offset=16 (local.get $p) (f32x4.add (v128.load offset=16 (local.get $p)) (local.get $u21)))
        (local.set $p (i32.add (local.get $o3) (local.get $off)))
        (v128.store (local.get $p) (f32x4.add (v128.load (local.get $p)) (local.get $u30)))
        (v128.store offset=16 (local.get $p) (f32x4.add (v128.load offset=16 (local.get $p)) (local.get $u31)))
        (local.set $off (i32.add (local.get $off) (i32.const 32)))
        (br $chunksNext)))
      (local.set $a (i32.add (local.get $a) (i32.const 4)))
      (br $quadsNext)))
    ;; the remaining anchors one at a time
    (block $onesDone (loop $onesNext
      (br_if $onesDone (i32.ge_s (local.get $a) (local.get $na)))
      (local.set $o0 (i32.add (local.get $acc) (i32.load (i32.add (local.get $ia) (i32.shl (local.get $a) (i32.const 2))))))
      (local.set $off (i32.const 0))
      (block $chunksDone (loop $chunksNext
        (br_if $chunksDone (i32.ge_u (local.get $off) (local.get $len)))
        (local.set $u00 (v128.const i32x4 0 0 0 0)) (local.set $u01 (v128.const i32x4 0 0 0 0))
        (local.set $b (i32.const 0))
        (block $colsDone (loop $colsNext
          (br_if $colsDone (i32.ge_s (local.get $b) (local.get $m)))
          (local.set $p (i32.add (i32.add (local.get $x) (local.get $off))
            (i32.load (i32.add (local.get $ib) (i32.shl (local.get $b) (i32.const 2))))))
          (local.set $s (v128.load32_splat (i32.add (i32.add (local.get $g) (i32.mul (local.get $a) (local.get $rowBytes)))
            (i32.shl (local.get $b) (i32.const 2)))))
          (local.set $u00 (f32x4.add (local.get $u00) (f32x4.mul (local.get $s) (v128.load (local.get $p)))))
          (local.set $u01 (f32x4.add (local.get $u01) (f32x4.mul (local.get $s) (v128.load offset=16 (local.get $p)))))
          (local.set $b (i32.add (local.get $b) (i32.const 1)))
          (br $colsNext)))
        (local.set $p (i32.add (local.get $o0) (local.get $off)))
        (v128.store (local.get $p) (f32x4.add (v128.load (local.get $p)) (local.get $u00)))
        (v128.store offset=16 (local.get $p) (f32x4.add (v128.load offset=16 (local.get $p)) (local.get $u01)))
        (local.set $off (i32.add (local.get $off) (i32.const 32)))
        (br $chunksNext)))
      (local.set $a (i32.add (local.get $a) (i32.const 1)))
      (br $onesNext))))

  ;; acc + ib[b] += Σ_a g[a·m + b] · (x + ia[a]) for b < m (distinct columns): the columns' gradient,
  ;; dL/dx_j += Σ_i g_ij x_i. Four columns at a time (8 floats of each in registers, their four g values
  ;; from one load) while the anchors stream; the remaining columns one at a time.
  (func (export "gradCols")
    (param $x i32) (param $ia i32) (param $na i32) (param $ib i32) (param $m i32)
    (param $len i32) (param $g i32) (param $acc i32)
    (local $a i32) (local $off i32) (local $b i32) (local $p i32) (local $s v128) (local $rowBytes i32)
    (local $y0 v128) (local $y1 v128) (local $gv v128)
    (local $u00 v128) (local $u01 v128) (local $u10 v128) (local $u11 v128)
    (local $u20 v128) (local $u21 v128) (local $u30 v128) (local $u31 v128)
    (local.set $rowBytes (i32.shl (local.get $m) (i32.const 2)))
    (block $quadsDone (loop $quadsNext
      (br_if $quadsDone (i32.gt_s (i32.add (local.get $b) (i32.const 4)) (local.get $m)))
      (local.set $off (i32.const 0))
      (block $chunksDone (loop $chunksNext
        (br_if $chunksDone (i32.ge_u (local.get $off) (local.get $len)))
        (local.set $u00 (v128.const i32x4 0 0 0 0)) (local.set $u01 (v128.const i32x4 0 0 0 0))
        (local.set $u10 (v128.const i32x4 0 0 0 0)) (local.set $u11 (v128.const i32x4 0 0 0 0))
        (local.set $u20 (v128.const i32x4 0 0 0 0)) (local.set $u21 (v128.const i32x4 0 0 0 0))
        (local.set $u30 (v128.const i32x4 0 0 0 0)) (local.set $u31 (v128.const i32x4 0 0 0 0))
        (local.set $a (i32.const 0))
        (block $rowsDone (loop $rowsNext
          (br_if $rowsDone (i32.ge_s (local.get $a) (local.get $na)))
          (local.set $p (i32.add (i32.add (local.get $x) (local.get $off))
            (i32.load (i32.add (local.get $ia) (i32.shl (local.get $a) (i32.const 2))))))
          (local.set $y0 (v128.load (local.get $p)))
          (local.set $y1 (v128.load offset=16 (local.get $p)))
          (local.set $gv (v128.load (i32.add (i32.add (local.get $g) (i32.mul (local.get $a) (local.get $rowBytes)))
            (i32.shl (local.get $b) (i32.const 2)))))
          (local.set $s (i8x16.shuffle 0 1 2 3 0 1 2 3 0 1 2 3 0 1 2 3 (local.get $gv) (local.get $gv)))
          (local.set $u00 (f32x4.add (local.get $u00) (f32x4.mul (local.get $s) (local.get $y0))))
          (local.set $u01 (f32x4.add (local.get $u01) (f32x4.mul (local.get $s) (local.get $y1))))
          (local.set $s (i8x16.shuffle 4 5 6 7 4 5 6 7 4 5 6 7 4 5 6 7 (local.get $gv) (local.get $gv)))
          (local.set $u10 (f32x4.add (local.get $u10) (f32x4.mul (local.get $s) (local.get $y0))))
          (local.set $u11 (f32x4.add (local.get $u11) (f32x4.mul (local.get $s) (local.get $y1))))
          (local.set $s (i8x16.shuffle 8 9 10 11 8 9 10 11 8 9 10 11 8 9 10 11 (local.get $gv) (local.get $gv)))
          (local.set $u20 (f32x4.add (local.get $u20) (f32x4.mul (local.get $s) (local.get $y0))))
          (local.set $u21 (f32x4.add (local.get $u21) (f32x4.mul (local.get $s) (local.get $y1))))
          (local.set $s (i8x16.shuffle 12 13 14 15 12 13 14 15 12 13 14 15 12 13 14 15 (local.get $gv) (local.get $gv)))
          (local.set $u30 (f32x4.add (local.get $u30) (f32x4.mul (local.get $s) (local.get $y0))))
          (local.set $u31 (f32x4.add (local.get $u31) (f32x4.mul (local.get $s) (local.get $y1))))
          (local.set $a (i32.add (local.get $a) (i32.const 1)))
          (br $rowsNext)))
        (local.set $p (i32.add (i32.add (local.get $acc) (local.get $off))
          (i32.load (i32.add (local.get $ib) (i32.shl (local.get $b) (i32.const 2))))))
        (v128.store (local.get $p) (f32x4.add (v128.load (local.get $p)) (local.get $u00)))
        (v128.store offset=16 (local.get $p) (f32x4.add (v128.load offset=16 (local.get $p)) (local.get $u01)))
        (local.set $p (i32.add (i32.add (local.get $acc) (local.get $off))
          (i32.load offset=4 (i32.add (local.get $ib) (i32.shl (local.get $b) (i32.const 2))))))
        (v128.store (local.get $p) (f32x4.add (v128.load (local.get $p)) (local.get $u10)))
        (v128.store offset=16 (local.get $p) (f32x4.add (v128.load offset=16 (local.get $p)) (local.get $u11)))
        (local.set $p (i32.add (i32.add (local.get $acc) (local.get $off))
          (i32.load offset=8 (i32.add (local.get $ib) (i32.shl (local.get $b) (i32.const 2))))))
        (v128.store (local.get $p) (f32x4.add (v128.load (local.get $p)) (local.get $u20)))
        (v128.store offset=16 (local.get $p) (f32x4.add (v128.load offset=16 (local.get $p)) (local.get $u21)))
        (local.set $p (i32.add (i32.add (local.get $acc) (local.get $off))
          (i32.load offset=12 (i32.add (local.get $ib) (i32.shl (local.get $b) (i32.const 2))))))
        (v128.store (local.get $p) (f32x4.add (v128.load (local.get $p)) (local.get $u30)))
        (v128.store offset=16 (local.get $p) (f32x4.add (v128.load offset=16 (local.get $p)) (local.get $u31)))
        (local.set $off (i32.add (local.get $off) (i32.const 32)))
        (br $chunksNext)))
      (local.set $b (i32.add (local.get $b) (i32.const 4)))
      (br $quadsNext)))
    (block $colsDone (loop $colsNext
      (br_if $colsDone (i32.ge_s (local.get $b) (local.get $m)))
      (local.set $off (i32.const 0))
      (block $chunksDone (loop $chunksNext
        (br_if $chunksDone (i32.ge_u (local.get $off) (local.get $len)))
        (local.set $u00 (v128.const i32x4 0 0 0 0)) (local.set $u01 (v128.const i32x4 0 0 0 0))
        (local.set $a (i32.const 0))
        (block $rowsDone (loop $rowsNext
          (br_if $rowsDone (i32.ge_s (local.get $a) (local.get $na)))
          (local.set $p (i32.add (i32.add (local.get $x) (local.get $off))
            (i32.load (i32.add (local.get $ia) (i32.shl (local.get $a) (i32.const 2))))))
          (local.set $s (v128.load32_splat (i32.add (i32.add (local.get $g) (i32.mul (local.get $a) (local.get $rowBytes)))
            (i32.shl (local.get $b) (i32.const 2)))))
          (local.set $u00 (f32x4.add (local.get $u00) (f32x4.mul (local.get $s) (v128.load (local.get $p)))))
          (local.set $u01 (f32x4.add (local.get $u01) (f32x4.mul (local.get $s) (v128.load offset=16 (local.get $p)))))
          (local.set $a (i32.add (local.get $a) (i32.const 1)))
          (br $rowsNext)))
        (local.set $p (i32.add (i32.add (local.get $acc) (local.get $off))
          (i32.load (i32.add (local.get $ib) (i32.shl (local.get $b) (i32.const 2))))))
        (v128.store (local.get $p) (f32x4.add (v128.load (local.get $p)) (local.get $u00)))
        (v128.store offset=16 (local.get $p) (f32x4.add (v128.load offset=16 (local.get $p)) (local.get $u01)))
        (local.set $off (i32.add (local.get $off) (i32.const 32)))
        (br $chunksNext)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $colsNext))))

  ;; One anchor a against its own columns ib[b] with weights g[b]: acc + a += Σ_b g_b (x + ib[b]) and
  ;; acc + ib[b] += g_b (x + a) (columns distinct, none equal to a).
  (func (export "gradRow")
    (param $x i32) (param $a i32) (param $ib i32) (param $m i32) (param $len i32) (param $g i32)
    (param $acc i32)
    (local $b i32) (local $off i32) (local $s v128) (local $pa i32) (local $pb i32) (local $q i32)
    (block $colsDone (loop $colsNext
      (br_if $colsDone (i32.ge_s (local.get $b) (local.get $m)))
      (local.set $s (v128.load32_splat (i32.add (local.get $g) (i32.shl (local.get $b) (i32.const 2)))))
      (local.set $q (i32.load (i32.add (local.get $ib) (i32.shl (local.get $b) (i32.const 2)))))
      (local.set $off (i32.const 0))
      (block $chunksDone (loop $chunksNext
        (br_if $chunksDone (i32.ge_u (local.get $off) (local.get $len)))
        (local.set $pa (i32.add (i32.add (local.get $acc) (local.get $a)) (local.get $off)))
        (local.set $pb (i32.add (i32.add (local.get $acc) (local.get $q)) (local.get $off)))
        (v128.store (local.get $pa) (f32x4.add (v128.load (local.get $pa))
          (f32x4.mul (local.get $s) (v128.load (i32.add (i32.add (local.get $x) (local.get $q)) (local.get $off))))))
        (v128.store (local.get $pb) (f32x4.add (v128.load (local.get $pb))
          (f32x4.mul (local.get $s) (v128.load (i32.add (i32.add (local.get $x) (local.get $a)) (local.get $off))))))
        (local.set $off (i32.add (local.get $off) (i32.const 16)))
        (br $chunksNext)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $colsNext))))

  ;; Int16 copies for the integer passes: dst row i = round(x_i · 32767) (rows of `len` bytes of floats at
  ;; `stride`, written as len / 2 bytes at stride / 2), and l1[i] = ‖x_i‖₁, sq[i] = ‖x_i‖² for the error
  ;; bound, for rows i0 ≤ i < i1. |x_k| ≤ 1 (unit rows), so every value fits in int16.
  (func (export "quantizeRows")
    (param $src i32) (param $stride i32) (param $dst i32) (param $i0 i32) (param $i1 i32) (param $len i32)
    (param $l1 i32) (param $sq i32)
    (local $i i32) (local $k i32) (local $a i32) (local $o i32) (local $x0 v128) (local $x1 v128)
    (local $sa v128) (local $ss v128) (local $scale v128)
    (local.set $scale (f32x4.splat (f32.const 32767)))
    (local.set $i (local.get $i0))
    (block $rowsDone (loop $rowsNext
      (br_if $rowsDone (i32.ge_s (local.get $i) (local.get $i1)))
      (local.set $a (i32.add (local.get $src) (i32.mul (local.get $i) (local.get $stride))))
      (local.set $o (i32.add (local.get $dst) (i32.mul (local.get $i) (i32.shr_u (local.get $stride) (i32.const 1)))))
      (local.set $sa (v128.const i32x4 0 0 0 0))
      (local.set $ss (v128.const i32x4 0 0 0 0))
      (local.set $k (i32.const 0))
      (block $done (loop $next
        (br_if $done (i32.ge_u (local.get $k) (local.get $len)))
        (local.set $x0 (v128.load (i32.add (local.get $a) (local.get $k))))
        (local.set $x1 (v128.load offset=16 (i32.add (local.get $a) (local.get $k))))
        (v128.store (i32.add (local.get $o) (i32.shr_u (local.get $k) (i32.const 1)))
          (i16x8.narrow_i32x4_s
            (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (local.get $x0) (local.get $scale))))
            (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (local.get $x1) (local.get $scale))))))
        (local.set $sa (f32x4.add (local.get $sa) (f32x4.add (f32x4.abs (local.get $x0)) (f32x4.abs (local.get $x1)))))
        (local.set $ss (f32x4.add (local.get $ss)
          (f32x4.add (f32x4.mul (local.get $x0) (local.get $x0)) (f32x4.mul (local.get $x1) (local.get $x1)))))
        (local.set $k (i32.add (local.get $k) (i32.const 32)))
        (br $next)))
      (f32.store (i32.add (local.get $l1) (i32.shl (local.get $i) (i32.const 2)))
        (f32.add (f32.add (f32x4.extract_lane 0 (local.get $sa)) (f32x4.extract_lane 1 (local.get $sa)))
          (f32.add (f32x4.extract_lane 2 (local.get $sa)) (f32x4.extract_lane 3 (local.get $sa)))))
      (f32.store (i32.add (local.get $sq) (i32.shl (local.get $i) (i32.const 2)))
        (f32.add (f32.add (f32x4.extract_lane 0 (local.get $ss)) (f32x4.extract_lane 1 (local.get $ss)))
          (f32.add (f32x4.extract_lane 2 (local.get $ss)) (f32x4.extract_lane 3 (local.get $ss)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $rowsNext))))

  ;; out[i] = number of set bits of row i of a bit matrix, for i0 ≤ i < i1 (rowBytes a multiple of 8).
  (func (export "popcountRows")
    (param $bits i32) (param $rowBytes i32) (param $i0 i32) (param $i1 i32) (param $out i32)
    (local $i i32) (local $p i32) (local $end i32) (local $count i64)
    (local.set $i (local.get $i0))
    (block $rowsDone (loop $rowsNext
      (br_if $rowsDone (i32.ge_s (local.get $i) (local.get $i1)))
      (local.set $p (i32.add (local.get $bits) (i32.mul (local.get $i) (local.get $rowBytes))))
      (local.set $end (i32.add (local.get $p) (local.get $rowBytes)))
      (local.set $count (i64.const 0))
      (block $wordsDone (loop $wordsNext
        (br_if $wordsDone (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $count (i64.add (local.get $count) (i64.popcnt (i64.load (local.get $p)))))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (br $wordsNext)))
      (i32.store (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 2))) (i32.wrap_i64 (local.get $count)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $rowsNext))))

  ;; dst[k] += src[k] for `bytes` bytes (a multiple of 16).
  (func (export "addInto") (param $dst i32) (param $src i32) (param $bytes i32)
    (local $k i32)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $k) (local.get $bytes)))
      (v128.store (i32.add (local.get $dst) (local.get $k))
        (f32x4.add (v128.load (i32.add (local.get $dst) (local.get $k))) (v128.load (i32.add (local.get $src) (local.get $k)))))
      (local.set $k (i32.add (local.get $k) (i32.const 16)))
      (br $next))))
;; out[k] = x[k] · w (first ≠ 0) or out[k] = out[k] + x[k] · w, for `bytes` bytes (a multiple of 16): in
;; each lane one float32 product, then one float32 sum, the operations of TF.js's Mul and Add (the LHP mix,
;; local-mix.ts, is bit for bit its TF.js engine this way).
  (func (export "scaleAddRow") (param $out i32) (param $x i32) (param $w f32) (param $bytes i32) (param $first i32)
    (local $k i32) (local $ws v128) (local $p v128)
    (local.set $ws (f32x4.splat (local.get $w)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $k) (local.get $bytes)))
      (local.set $p (f32x4.mul (v128.load (i32.add (local.get $x) (local.get $k))) (local.get $ws)))
      (if (i32.eqz (local.get $first))
        (then (local.set $p (f32x4.add (v128.load (i32.add (local.get $out) (local.get $k))) (local.get $p)))))
      (v128.store (i32.add (local.get $out) (local.get $k)) (local.get $p))
      (local.set $k (i32.add (local.get $k) (i32.const 16)))
      (br $next))))
)

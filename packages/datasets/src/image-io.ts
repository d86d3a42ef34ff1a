import { readFile } from 'node:fs/promises';
import { HpError } from '@hpseg/core';
import sharp from 'sharp';
import { decodeLabelPng } from './png.js';

/** A decoded RGB image. */
export interface RgbImage {
  /** `[H, W, 3]` RGB uint8. */
  data: Uint8Array;
  height: number;
  width: number;
}

/** Reads a file, turning "no such file" into `E_NOT_FOUND` and other failures into `E_IO`. */
export async function readBytes(fn: string, path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new HpError('E_NOT_FOUND', `${fn}: file not found: expected ${path} to exist, got ENOENT`, {
        cause: error,
        details: { path },
      });
    }
    throw new HpError('E_IO', `${fn}: cannot read ${path}: ${(error as Error).message}`, {
      cause: error,
      details: { path },
    });
  }
}

/**
 * Decodes an image (JPEG, PNG, WebP, TIFF, … via sharp/libvips) to `[H, W, 3]` RGB uint8, like
 * PIL's `Image.open(p).convert('RGB')`: alpha dropped, greyscale replicated, no EXIF rotation, and
 * the embedded ICC profile ignored (PIL does not colour-manage; sharp would convert to sRGB).
 */
export async function decodeImage(input: Uint8Array, source = ''): Promise<RgbImage> {
  try {
    const { data, info } = await sharp(input, { failOn: 'error', ignoreIcc: true })
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || data.length !== info.width * info.height * 3) {
      throw new Error(
        `expected 3 channels of 8 bits after conversion, got ${info.channels} channels, ${data.length} bytes`,
      );
    }
    return {
      data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      height: info.height,
      width: info.width,
    };
  } catch (error) {
    throw new HpError(
      'E_FORMAT',
      `decodeImage: cannot decode image${source ? ` ${source}` : ''}: ${(error as Error).message}`,
      {
        cause: error,
        details: { source },
      },
    );
  }
}

/** Reads and decodes an image file to RGB. */
export async function readImageFile(path: string): Promise<RgbImage> {
  return decodeImage(await readBytes('readImageFile', path), path);
}

/** A decoded label map before any class mapping: raw values (grey levels or palette indices). */
export interface RawLabel {
  /** `[H, W]` raw values. */
  data: Uint16Array;
  height: number;
  width: number;
}

/** Reads a label PNG losslessly (palette PNGs give indices). */
export async function readLabelPng(path: string): Promise<RawLabel> {
  const png = decodeLabelPng(await readBytes('readLabelPng', path), path);
  return { data: png.data, height: png.height, width: png.width };
}

/**
 * Encodes `[H, W, 3]` RGB uint8 as JPEG with PIL's defaults: quality 75, 4:2:0 chroma subsampling,
 * baseline, standard IJG tables. The encoder is libjpeg-turbo/mozjpeg inside libvips with mozjpeg's
 * extras switched off, so pixel values after decoding can still differ slightly from PIL's output.
 */
export async function encodeJpeg(
  image: Uint8Array,
  height: number,
  width: number,
  quality = 75,
): Promise<Uint8Array> {
  if (image.length !== height * width * 3) {
    throw new HpError(
      'E_SHAPE',
      `encodeJpeg: image has the wrong length: expected ${height}*${width}*3 = ${height * width * 3}, got ${image.length}`,
    );
  }
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) {
    throw new HpError(
      'E_ARG',
      `encodeJpeg: quality out of range: expected an integer in [1, 100], got ${String(quality)}`,
    );
  }
  const buf = await sharp(image, { raw: { width, height, channels: 3 } })
    .jpeg({
      quality,
      chromaSubsampling: '4:2:0',
      mozjpeg: false,
      trellisQuantisation: false,
      overshootDeringing: false,
      optimiseScans: false,
      optimiseCoding: false,
      progressive: false,
      quantisationTable: 0,
    })
    .toBuffer();
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/**
 * Bilinear (libvips `linear` kernel) resize of an `[H, W, 3]` RGB uint8 image to `[height, width, 3]`:
 * for downscaling arbitrary photos before segmentation (not part of the official training or eval views,
 * which use NEAREST).
 */
export async function resizeImageLinear(image: RgbImage, height: number, width: number): Promise<RgbImage> {
  if (image.data.length !== image.height * image.width * 3) {
    throw new HpError(
      'E_SHAPE',
      `resizeImageLinear: image has the wrong length: expected ${image.height}*${image.width}*3 = ${image.height * image.width * 3}, got ${image.data.length}`,
    );
  }
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1) {
    throw new HpError(
      'E_ARG',
      `resizeImageLinear: bad target size: expected positive integers, got ${String(height)}x${String(width)}`,
    );
  }
  if (height === image.height && width === image.width) return image;
  const { data } = await sharp(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength), {
    raw: { width: image.width, height: image.height, channels: 3 },
  })
    .resize(width, height, { fit: 'fill', kernel: 'linear' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), height, width };
}

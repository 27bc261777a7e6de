#ifndef IMAGE_CODECS_H
#define IMAGE_CODECS_H

#include <stddef.h>

/// A decoded 8-bit image (interleaved, row-major). `pixels` is malloc'd; free it with ic_image_free.
typedef struct {
    int width;
    int height;
    int channels;
    unsigned char *pixels;
} ic_image;

/// Every call returns 0 on success; on failure it returns -1 and writes a message (NUL-terminated,
/// at most errlen bytes) into err. Nothing here exits or prints.

/// JPEG via libjpeg(-turbo). channels: 1 (gray) or 3 (RGB); the library converts (CMYK is converted too).
/// A truncated stream is an error (libjpeg only warns and pads with gray).
int ic_jpeg_decode_memory(const unsigned char *data, size_t size, int channels, ic_image *out, char *err, size_t errlen);
int ic_jpeg_encode_file(const char *path, const unsigned char *pixels, int width, int height, int channels,
                        int quality, char *err, size_t errlen);

/// TIFF via libtiff's RGBA interface (any photometric/bit depth it supports, oriented top-left).
/// channels: 1 (gray: the first sample for one-sample images, else ITU-R 601 luma) or 3 (RGB).
/// libtiff's warnings are silenced and its errors are returned in err.
int ic_tiff_decode_file(const char *path, int channels, ic_image *out, char *err, size_t errlen);
/// Writes an 8-bit gray or RGB TIFF (compression: 1 none, 5 LZW, 32773 PackBits).
int ic_tiff_encode_file(const char *path, const unsigned char *pixels, int width, int height, int channels,
                        int compression, char *err, size_t errlen);
/// The same with 16-bit samples (native byte order), for tests of 16-bit decoding.
int ic_tiff_encode16_file(const char *path, const unsigned short *samples, int width, int height, int channels,
                          int compression, char *err, size_t errlen);

/// 16-bit PNG via libpng's low-level API: samples scaled to 8 bits as stored (v/257 rounded, no
/// gamma step; alpha dropped). channels: 1 (gray: the sample for gray files, else ITU-R 601 luma) or 3.
int ic_png_decode16_file(const char *path, int channels, ic_image *out, char *err, size_t errlen);
/// Writes a 16-bit gray or RGB PNG (no gamma chunk) from native-endian samples.
int ic_png_encode16_file(const char *path, const unsigned short *samples, int width, int height, int channels,
                         char *err, size_t errlen);

void ic_image_free(ic_image *image);

#endif

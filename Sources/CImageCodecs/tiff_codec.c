// TIFF through libtiff. libtiff reports through process-wide handlers that print to stderr by default;
// here warnings are dropped and the last error goes into a per-thread buffer that the caller returns.
#include "image_codecs.h"
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>

static _Thread_local char ic_tiff_last_error[512];

static void ic_tiff_error(const char *module, const char *fmt, va_list ap) {
    char message[400];
    vsnprintf(message, sizeof message, fmt, ap);
    if (module) snprintf(ic_tiff_last_error, sizeof ic_tiff_last_error, "%s: %s", module, message);
    else snprintf(ic_tiff_last_error, sizeof ic_tiff_last_error, "%s", message);
}

static void ic_tiff_warning(const char *module, const char *fmt, va_list ap) {
    (void)module; (void)fmt; (void)ap;
}

static void ic_tiff_install(void) {
    TIFFSetErrorHandler(ic_tiff_error);
    TIFFSetWarningHandler(ic_tiff_warning);
    ic_tiff_last_error[0] = 0;
}

static void ic_tiff_fail(char *err, size_t errlen, const char *what) {
    if (ic_tiff_last_error[0]) snprintf(err, errlen, "%s: %s", what, ic_tiff_last_error);
    else snprintf(err, errlen, "%s", what);
}

int ic_tiff_decode_file(const char *path, int channels, ic_image *out, char *err, size_t errlen) {
    memset(out, 0, sizeof(*out));
    if (channels != 1 && channels != 3) {
        snprintf(err, errlen, "unsupported channel count %d", channels);
        return -1;
    }
    ic_tiff_install();
    TIFF *tif = TIFFOpen(path, "r");
    if (!tif) {
        ic_tiff_fail(err, errlen, "cannot open TIFF");
        return -1;
    }
    uint32_t w = 0, h = 0;
    uint16_t spp = 1;
    TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w);
    TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
    if (w == 0 || h == 0 || (uint64_t)w * h > (uint64_t)1 << 28) {
        snprintf(err, errlen, "unsupported TIFF size %ux%u", w, h);
        TIFFClose(tif);
        return -1;
    }
    char why[1024] = {0};
    if (!TIFFRGBAImageOK(tif, why)) {
        snprintf(err, errlen, "unsupported TIFF: %s", why);
        TIFFClose(tif);
        return -1;
    }
    uint32_t *raster = _TIFFmalloc((tmsize_t)((size_t)w * h * sizeof(uint32_t)));
    unsigned char *pixels = malloc((size_t)w * h * channels);
    if (!raster || !pixels) {
        snprintf(err, errlen, "out of memory for a %ux%u TIFF", w, h);
        if (raster) _TIFFfree(raster);
        free(pixels);
        TIFFClose(tif);
        return -1;
    }
    if (!TIFFReadRGBAImageOriented(tif, w, h, raster, ORIENTATION_TOPLEFT, 0)) {
        ic_tiff_fail(err, errlen, "corrupt TIFF");
        _TIFFfree(raster);
        free(pixels);
        TIFFClose(tif);
        return -1;
    }
    int oneSample = spp == 1;
    for (size_t i = 0; i < (size_t)w * h; i++) {
        uint32_t p = raster[i];
        int r = TIFFGetR(p), g = TIFFGetG(p), b = TIFFGetB(p);
        if (channels == 3) {
            pixels[3 * i] = (unsigned char)r; pixels[3 * i + 1] = (unsigned char)g; pixels[3 * i + 2] = (unsigned char)b;
        } else {
            pixels[i] = oneSample ? (unsigned char)r : (unsigned char)((r * 299 + g * 587 + b * 114 + 500) / 1000);
        }
    }
    _TIFFfree(raster);
    TIFFClose(tif);
    out->width = (int)w;
    out->height = (int)h;
    out->channels = channels;
    out->pixels = pixels;
    return 0;
}

static int ic_tiff_encode(const char *path, const void *pixels, int bits, int width, int height, int channels,
                          int compression, char *err, size_t errlen) {
    ic_tiff_install();
    TIFF *tif = TIFFOpen(path, "w");
    if (!tif) {
        ic_tiff_fail(err, errlen, "cannot open TIFF for writing");
        return -1;
    }
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, (uint32_t)width);
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, (uint32_t)height);
    TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)channels);
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, (uint16_t)bits);
    TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, channels == 1 ? PHOTOMETRIC_MINISBLACK : PHOTOMETRIC_RGB);
    TIFFSetField(tif, TIFFTAG_COMPRESSION, (uint16_t)compression);
    TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, (uint32_t)16);
    for (int y = 0; y < height; y++) {
        const unsigned char *line = (const unsigned char *)pixels + (size_t)y * width * channels * (bits / 8);
        if (TIFFWriteScanline(tif, (void *)line, (uint32_t)y, 0) < 0) {
            ic_tiff_fail(err, errlen, "TIFF write failed");
            TIFFClose(tif);
            return -1;
        }
    }
    TIFFClose(tif);
    return 0;
}

int ic_tiff_encode_file(const char *path, const unsigned char *pixels, int width, int height, int channels,
                        int compression, char *err, size_t errlen) {
    return ic_tiff_encode(path, pixels, 8, width, height, channels, compression, err, errlen);
}

int ic_tiff_encode16_file(const char *path, const unsigned short *samples, int width, int height, int channels,
                          int compression, char *err, size_t errlen) {
    return ic_tiff_encode(path, samples, 16, width, height, channels, compression, err, errlen);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Glue for secure mode (aead.rs calls): the kernel crypto API's AEAD,
 * which Rust cannot reach because its request helpers are inline, and the
 * ChaCha20-Poly1305 library WireGuard uses. The crypto API's sequences
 * are ovpn's (drivers/net/ovpn/crypto_aead.c): one scratch block holds
 * the IV, the request and the scatterlist; the library's are WireGuard's
 * (encrypt_packet, decrypt_packet). The skb is sealed and opened in place.
 * Synchronous only: the data path runs in softirq or with bottom halves
 * off and needs the result before it goes on, as WireGuard's. The library
 * (CRYPTO_LIB_CHACHA20POLY1305) has no prompt: a kernel has it when
 * something selects it, here CONFIG_WIREGUARD (qemu/kernel.config).
 */
#include <crypto/aead.h>
#include <crypto/chacha20poly1305.h>
#include <linux/scatterlist.h>
#include <linux/skbuff.h>
#include <linux/unaligned.h>
#include <linux/workqueue.h>

#include "xtun_shim.h"

#define XTUN_AEAD_TAG_LEN 16
#define XTUN_AEAD_NONCE_LEN 12

/* A transform, or the library's key, and the work that frees it: the
 * last reference to a key can go in softirq (a datagram in flight held
 * it), and freeing a transform may sleep, so it is freed from a work, as
 * ovpn's key slots (ovpn_crypto_key_slot_release). */
struct xtun_aead {
	/* NULL: the ChaCha20-Poly1305 library with @key. */
	struct crypto_aead *tfm;
	u8 key[CHACHA20POLY1305_KEY_SIZE];
	struct work_struct free_work;
};

/* The module's own queue, so that unloading can wait for every free
 * (destroy_workqueue drains it). NULL before module init: KUnit runs the
 * suites first, in process context, and they free at once. */
static struct workqueue_struct *xtun_aead_wq;

int xtun_aead_init(void)
{
	xtun_aead_wq = alloc_workqueue("xtun_aead", WQ_UNBOUND, 0);
	return xtun_aead_wq ? 0 : -ENOMEM;
}

void xtun_aead_exit(void)
{
	destroy_workqueue(xtun_aead_wq);
	xtun_aead_wq = NULL;
}

/* @alg of the crypto API keyed with @key; with @alg NULL, the
 * ChaCha20-Poly1305 library (its own copy of @key, wiped when freed). */
struct xtun_aead *xtun_aead_new(const char *alg, const u8 *key,
				unsigned int key_len)
{
	struct crypto_aead *tfm;
	struct xtun_aead *x;
	int err;

	x = kzalloc(sizeof(*x), GFP_KERNEL);
	if (!x)
		return ERR_PTR(-ENOMEM);
	if (!alg) {
		if (key_len != sizeof(x->key)) {
			kfree(x);
			return ERR_PTR(-EINVAL);
		}
		memcpy(x->key, key, key_len);
		return x;
	}
	tfm = crypto_alloc_aead(alg, 0, CRYPTO_ALG_ASYNC);
	if (IS_ERR(tfm)) {
		kfree(x);
		return ERR_CAST(tfm);
	}
	err = crypto_aead_setkey(tfm, key, key_len);
	if (!err)
		err = crypto_aead_setauthsize(tfm, XTUN_AEAD_TAG_LEN);
	if (!err && crypto_aead_ivsize(tfm) != XTUN_AEAD_NONCE_LEN)
		err = -EINVAL;
	if (err) {
		/* crypto_destroy_tfm wipes the key schedule (kfree_sensitive). */
		crypto_free_aead(tfm);
		kfree(x);
		return ERR_PTR(err);
	}
	x->tfm = tfm;
	return x;
}

static void xtun_aead_destroy(struct xtun_aead *x)
{
	if (x->tfm)
		crypto_free_aead(x->tfm);
	kfree_sensitive(x);
}

static void xtun_aead_free_work(struct work_struct *work)
{
	xtun_aead_destroy(container_of(work, struct xtun_aead, free_work));
}

/* Any context. */
void xtun_aead_free(struct xtun_aead *x)
{
	if (!xtun_aead_wq) {
		might_sleep();
		xtun_aead_destroy(x);
		return;
	}
	INIT_WORK(&x->free_work, xtun_aead_free_work);
	queue_work(xtun_aead_wq, &x->free_work);
}

const char *xtun_aead_driver_name(struct xtun_aead *x)
{
	if (!x->tfm)
		return "chacha20poly1305-lib";
	return crypto_tfm_alg_driver_name(crypto_aead_tfm(x->tfm));
}

/* ovpn_aead_crypto_tmp_size and friends: the IV aligned for the transform,
 * then the request, then @nsg scatterlist entries. */
static size_t xtun_aead_tmp_size(struct crypto_aead *tfm, int nsg)
{
	size_t len = XTUN_AEAD_NONCE_LEN;

	len += crypto_aead_alignmask(tfm) & ~(crypto_tfm_ctx_alignment() - 1);
	len = ALIGN(len, crypto_tfm_ctx_alignment());
	len += sizeof(struct aead_request) + crypto_aead_reqsize(tfm);
	len = ALIGN(len, __alignof__(struct scatterlist));
	return len + array_size(sizeof(struct scatterlist), nsg);
}

/* The library over @skb's bytes from @offset, as xtun_aead_run: the
 * associated data must be in the linear head. Its nonce is 0^4 || le64(n);
 * secure.rs's are 0^4 || 8 bytes, which the library gets as they are.
 * The scatterlist is on the stack when short (skb_cow_data linearizes
 * page fragments: one entry, but for a frag list), as WireGuard's is in
 * its workers; here it may be softirq, so a long one is allocated. */
static int xtun_aead_lib_run(const u8 *key, struct sk_buff *skb,
			     unsigned int offset, unsigned int ad_len,
			     unsigned int crypt_len, int nfrags,
			     const u8 *nonce, bool seal)
{
	struct scatterlist sg_short[2], *sg = sg_short;
	u64 n = get_unaligned_le64(nonce + 4);
	bool ok;
	int err;

	if (get_unaligned_le32(nonce) || skb_headlen(skb) < offset + ad_len)
		return -EINVAL;
	if (nfrags > ARRAY_SIZE(sg_short)) {
		sg = kmalloc_array(nfrags, sizeof(*sg), GFP_ATOMIC);
		if (!sg)
			return -ENOMEM;
	}
	sg_init_table(sg, nfrags);
	err = skb_to_sgvec_nomark(skb, sg, offset + ad_len,
				  crypt_len + (seal ? XTUN_AEAD_TAG_LEN : 0));
	if (err < 0)
		goto out;
	sg_mark_end(&sg[err - 1]);
	if (seal)
		ok = chacha20poly1305_encrypt_sg_inplace(sg, crypt_len,
				skb->data + offset, ad_len, n, key);
	else
		ok = chacha20poly1305_decrypt_sg_inplace(sg, crypt_len,
				skb->data + offset, ad_len, n, key);
	err = ok ? 0 : seal ? -EINVAL : -EBADMSG;
out:
	if (sg != sg_short)
		kfree(sg);
	return err;
}

/* One request over @skb's bytes from @offset: @ad_len bytes of associated
 * data, then @crypt_len bytes to encrypt (@seal) or to decrypt and check
 * (the ciphertext and its tag). */
static int xtun_aead_run(struct xtun_aead *x, struct sk_buff *skb,
			 unsigned int offset, unsigned int ad_len,
			 unsigned int crypt_len, unsigned int sg_len,
			 int nfrags, const u8 *nonce, bool seal)
{
	struct crypto_aead *tfm = x->tfm;
	struct aead_request *req;
	struct scatterlist *sg;
	void *tmp;
	u8 *iv;
	int err;

	if (!tfm)
		return xtun_aead_lib_run(x->key, skb, offset, ad_len, crypt_len,
					 nfrags, nonce, seal);
	tmp = kmalloc(xtun_aead_tmp_size(tfm, nfrags), GFP_ATOMIC);
	if (!tmp)
		return -ENOMEM;
	iv = PTR_ALIGN((u8 *)tmp, crypto_aead_alignmask(tfm) + 1);
	req = (void *)PTR_ALIGN(iv + XTUN_AEAD_NONCE_LEN, crypto_tfm_ctx_alignment());
	sg = (void *)ALIGN((unsigned long)(req + 1) + crypto_aead_reqsize(tfm),
			   __alignof__(struct scatterlist));
	memcpy(iv, nonce, XTUN_AEAD_NONCE_LEN);

	sg_init_table(sg, nfrags);
	err = skb_to_sgvec_nomark(skb, sg, offset, sg_len);
	if (err < 0)
		goto out;
	sg_mark_end(&sg[err - 1]);
	aead_request_set_tfm(req, tfm);
	aead_request_set_callback(req, 0, NULL, NULL);
	aead_request_set_crypt(req, sg, sg, crypt_len, iv);
	aead_request_set_ad(req, ad_len);
	err = seal ? crypto_aead_encrypt(req) : crypto_aead_decrypt(req);
out:
	/* The request's context held cipher state. */
	kfree_sensitive(tmp);
	return err;
}

/* Encrypts in place the bytes of @skb after its first @ad_len (which are
 * authenticated, not encrypted) and appends the tag. */
int xtun_aead_seal(struct xtun_aead *x, struct sk_buff *skb,
		   unsigned int ad_len, const u8 *nonce)
{
	struct sk_buff *trailer;
	unsigned int text_len;
	int nfrags;

	if (skb->len < ad_len)
		return -EINVAL;
	text_len = skb->len - ad_len;
	nfrags = skb_cow_data(skb, XTUN_AEAD_TAG_LEN, &trailer);
	if (nfrags < 0)
		return nfrags;
	/* As ovpn: a bound on the scratch scatterlist. */
	if (nfrags > MAX_SKB_FRAGS + 2)
		return -ENOSPC;
	pskb_put(skb, trailer, XTUN_AEAD_TAG_LEN);
	return xtun_aead_run(x, skb, 0, ad_len, text_len, skb->len, nfrags,
			     nonce, true);
}

/* Checks and decrypts in place the bytes of @skb from @offset: @ad_len
 * bytes of associated data, the ciphertext, the tag; then trims the tag.
 * -EBADMSG: not authentic (the skb's bytes are then undefined). */
int xtun_aead_open(struct xtun_aead *x, struct sk_buff *skb,
		   unsigned int offset, unsigned int ad_len, const u8 *nonce)
{
	struct sk_buff *trailer;
	unsigned int sg_len;
	int nfrags, err;

	if (skb->len < offset + ad_len + XTUN_AEAD_TAG_LEN)
		return -EBADMSG;
	sg_len = skb->len - offset;
	nfrags = skb_cow_data(skb, 0, &trailer);
	if (nfrags < 0)
		return nfrags;
	if (nfrags > MAX_SKB_FRAGS + 2)
		return -ENOSPC;
	err = xtun_aead_run(x, skb, offset, ad_len, sg_len - ad_len, sg_len,
			    nfrags, nonce, false);
	if (err)
		return err;
	/* As ovpn_netdev_write: the checksum a NIC took was over the
	 * ciphertext, and a frame bridged into the sender's tunnel may never
	 * have been checked: the stack checks it. The outer flow's hash and
	 * GSO state say nothing of the inner frame. */
	skb->ip_summed = CHECKSUM_NONE;
	skb_clear_hash(skb);
	skb_gso_reset(skb);
	return pskb_trim(skb, skb->len - XTUN_AEAD_TAG_LEN);
}

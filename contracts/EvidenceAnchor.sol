// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title EvidenceAnchor
/// @notice Anchors the checkpoints (tree size, root hash) of one RFC 9162 Merkle log and accepts
///         only append-only extensions: every anchor after the first must carry an RFC 9162
///         section 2.1.4 consistency proof from the latest anchored checkpoint, verified here
///         with the SHA-256 precompile.
/// @dev Storage is kept minimal for gas: one slot holds the latest tree size and the latest root
///      is read from the per-size root mapping, so a steady-state anchor reads three cold slots
///      (anchorer flag, latest size, latest root), writes one new slot (the root) and updates one
///      (the size).
contract EvidenceAnchor {
    /// @notice Longest consistency proof accepted. For tree sizes below 2^64 a valid proof has at
    ///         most 64 path hashes plus one seed hash; anything longer cannot verify.
    uint256 public constant MAX_PROOF_LENGTH = 65;

    /// @notice The caller is not an authorized anchorer.
    error NotAnchorer(address caller);
    /// @notice The caller is not the owner.
    error NotOwner(address caller);
    /// @notice The zero address cannot be an anchorer or the owner.
    error ZeroAddress();
    /// @notice A checkpoint of size 0 cannot be anchored.
    error EmptyTree();
    /// @notice The zero root is reserved for "nothing anchored".
    error ZeroRoot();
    /// @notice The proof has more entries than any valid proof can have.
    error ProofTooLong(uint256 length, uint256 maxLength);
    /// @notice The first anchor has nothing to be consistent with, so it takes an empty proof.
    error UnexpectedProof(uint256 length);
    /// @notice The tree size does not grow past the latest anchored size.
    error SizeNotGrowing(uint64 latest, uint64 given);
    /// @notice This exact checkpoint is already anchored (a duplicate submission).
    error AlreadyAnchored(uint64 treeSize, bytes32 rootHash);
    /// @notice A different root is already anchored for this tree size: the log forked.
    error RootMismatch(uint64 treeSize, bytes32 anchoredRoot, bytes32 givenRoot);
    /// @notice The consistency proof does not link the latest anchored checkpoint to the new one.
    error InvalidConsistencyProof();

    /// @notice A checkpoint was anchored; previousSize and previousRoot are 0 for the first one.
    event Anchored(uint64 indexed treeSize, bytes32 rootHash, uint64 previousSize, bytes32 previousRoot);
    event AnchorerAdded(address indexed anchorer);
    event AnchorerRemoved(address indexed anchorer);
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    // The latest size has a slot of its own so that updating it needs no read-modify-write.
    uint256 private _latestSize;
    address private _owner;
    mapping(address anchorer => bool) private _anchorers;
    mapping(uint64 treeSize => bytes32 rootHash) private _roots;

    constructor() {
        _owner = msg.sender;
        _anchorers[msg.sender] = true;
        emit OwnershipTransferred(address(0), msg.sender);
        emit AnchorerAdded(msg.sender);
    }

    modifier onlyOwner() {
        if (msg.sender != _owner) revert NotOwner(msg.sender);
        _;
    }

    /// @notice Anchors the checkpoint (treeSize, rootHash).
    /// @param consistencyProof RFC 9162 section 2.1.4.1 PROOF(latest size, D[treeSize]); empty
    ///        for the first anchor.
    function anchor(uint64 treeSize, bytes32 rootHash, bytes32[] calldata consistencyProof) external {
        if (!_anchorers[msg.sender]) revert NotAnchorer(msg.sender);
        if (treeSize == 0) revert EmptyTree();
        if (rootHash == bytes32(0)) revert ZeroRoot();

        uint64 previousSize = uint64(_latestSize);
        bytes32 previousRoot;
        uint256 proofLength = consistencyProof.length;
        if (previousSize == 0) {
            if (proofLength != 0) revert UnexpectedProof(proofLength);
        } else {
            if (treeSize <= previousSize) {
                bytes32 anchored = _roots[treeSize];
                if (anchored == rootHash) revert AlreadyAnchored(treeSize, rootHash);
                if (anchored != bytes32(0)) revert RootMismatch(treeSize, anchored, rootHash);
                revert SizeNotGrowing(previousSize, treeSize);
            }
            if (proofLength > MAX_PROOF_LENGTH) revert ProofTooLong(proofLength, MAX_PROOF_LENGTH);
            previousRoot = _roots[previousSize];
            if (!_verifyConsistency(previousSize, treeSize, previousRoot, rootHash, consistencyProof)) {
                revert InvalidConsistencyProof();
            }
        }

        _roots[treeSize] = rootHash;
        _latestSize = treeSize;
        emit Anchored(treeSize, rootHash, previousSize, previousRoot);
    }

    /// @notice The latest anchored checkpoint; (0, 0x0) before the first anchor.
    function latest() external view returns (uint64, bytes32) {
        uint64 size = uint64(_latestSize);
        return (size, _roots[size]);
    }

    /// @notice The root anchored for exactly this tree size, 0x0 if none.
    function rootAt(uint64 treeSize) external view returns (bytes32) {
        return _roots[treeSize];
    }

    function owner() external view returns (address) {
        return _owner;
    }

    function isAnchorer(address account) external view returns (bool) {
        return _anchorers[account];
    }

    /// @notice Authorizes an anchorer; a no-op (no event) if it already is one.
    function addAnchorer(address account) external onlyOwner {
        if (account == address(0)) revert ZeroAddress();
        if (_anchorers[account]) return;
        _anchorers[account] = true;
        emit AnchorerAdded(account);
    }

    /// @notice Revokes an anchorer; a no-op (no event) if it is not one.
    function removeAnchorer(address account) external onlyOwner {
        if (!_anchorers[account]) return;
        _anchorers[account] = false;
        emit AnchorerRemoved(account);
    }

    function transferOwnership(address newOwner) external onlyOwner {
        if (newOwner == address(0)) revert ZeroAddress();
        emit OwnershipTransferred(_owner, newOwner);
        _owner = newOwner;
    }

    /// @dev RFC 9162 section 2.1.4.2, step by step; requires 0 < first < second.
    ///      Written in assembly because it is most of an anchor's execution cost. fr and sr live
    ///      in memory, each as the right half of its own node preimage 0x01 || left || right
    ///      (buffers past the free memory pointer, not allocated), and every SHA-256 precompile
    ///      (address 0x02) call writes its result back over that right half. So
    ///      HASH(0x01 || c || fr) is: store c as left, hash in place.
    function _verifyConsistency(
        uint256 first,
        uint256 second,
        bytes32 firstHash,
        bytes32 secondHash,
        bytes32[] calldata path
    ) private view returns (bool ok) {
        assembly ("memory-safe") {
            // 1. If consistency_path is empty, fail.
            if path.length {
                let off := path.offset
                let end := add(off, shl(5, path.length))
                // fr preimage at f: 0x01, left, fr (at fr_); sr preimage at s: 0x01, left, sr
                // (at sr_).
                let f := mload(0x40)
                let fr_ := add(f, 33)
                let s := add(f, 65)
                let sr_ := add(f, 98)
                mstore8(f, 0x01)
                mstore8(s, 0x01)
                // 2. If first is an exact power of 2, prepend first_hash to the path;
                // 5. set fr and sr to the first value of the path.
                let seed := firstHash
                if and(first, sub(first, 1)) {
                    seed := calldataload(off)
                    off := add(off, 0x20)
                }
                mstore(fr_, seed)
                mstore(sr_, seed)
                // 3. fn = first - 1, sn = second - 1.
                let fn := sub(first, 1)
                let sn := sub(second, 1)
                // 4. If LSB(fn) is set, right-shift fn and sn equally until LSB(fn) is not set.
                for {} and(fn, 1) {} {
                    fn := shr(1, fn)
                    sn := shr(1, sn)
                }
                // The precompile's success flag is not checked: it fails only when given less
                // than its 96 gas, which leaves this frame under 2 gas (EIP-150), so the
                // transaction runs out of gas before it could use a stale result.
                //
                // 6. For each subsequent value c in the path; if sn is 0, stop (and fail in 7,
                //    as the path is not used up). The post block "finally, right-shift fn and
                //    sn one time" ends every iteration.
                for {} mul(lt(off, end), sn) {
                    off := add(off, 0x20)
                    fn := shr(1, fn)
                    sn := shr(1, sn)
                } {
                    let c := calldataload(off)
                    if or(and(fn, 1), eq(fn, sn)) {
                        // If LSB(fn) is set or fn == sn: fr = HASH(0x01 || c || fr),
                        // sr = HASH(0x01 || c || sr); then, if LSB(fn) is not set, right-shift
                        // fn and sn equally until LSB(fn) is set or fn is 0.
                        mstore(add(f, 1), c)
                        mstore(add(s, 1), c)
                        pop(staticcall(gas(), 0x02, f, 65, fr_, 0x20))
                        pop(staticcall(gas(), 0x02, s, 65, sr_, 0x20))
                        for {} iszero(or(and(fn, 1), iszero(fn))) {} {
                            fn := shr(1, fn)
                            sn := shr(1, sn)
                        }
                        continue
                    }
                    // Otherwise: sr = HASH(0x01 || sr || c).
                    mstore(add(s, 1), mload(sr_))
                    mstore(sr_, c)
                    pop(staticcall(gas(), 0x02, s, 65, sr_, 0x20))
                }
                // 7. The path is used up, fr equals first_hash, sr equals second_hash and sn is 0.
                ok := and(
                    and(eq(off, end), iszero(sn)),
                    and(eq(mload(fr_), firstHash), eq(mload(sr_), secondHash))
                )
            }
        }
    }
}
